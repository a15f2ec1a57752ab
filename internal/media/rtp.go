package media

import "github.com/pion/rtp"

// parseRTP reads a packet and drops its header extensions.
func parseRTP(b []byte) (*rtp.Packet, error) {
	var pkt rtp.Packet
	if err := pkt.Unmarshal(b); err != nil {
		return nil, err
	}
	pkt.Header.Extension = false
	pkt.Header.Extensions = nil
	return &pkt, nil
}
