package recording

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
)

// The WebM of a track is written twice. While recording, frames go to the
// live file: an EBML header, a Segment of unknown size, Info, Tracks and then
// one Cluster (of known size) every few seconds, the way a live stream is
// muxed. It needs no seeking back, so it can be streamed through the age
// encryption, and it stays playable up to the last complete cluster if the
// process dies. It has no Duration and no Cues, so browsers can neither show
// its length nor seek in it.
//
// At Close the finished file is written from it: the same header with a
// SeekHead, the Duration and a sized Segment, then Cues (one cue point a
// cluster that starts with a key frame), then the clusters, copied byte for
// byte. The muxer keeps the cluster index in memory while recording, a few
// bytes a cluster, so that the header can be built before the clusters are
// copied.

const (
	trackNumber = 1
	// timestamps are in milliseconds: TimestampScale 1 000 000 ns.
	timestampScale = 1_000_000

	// A new cluster starts at every key frame and at least every
	// maxClusterDuration or maxClusterSize.
	maxClusterDuration = 5000 // ms, well inside a block's int16 offset
	maxClusterSize     = 4 << 20

	opusSeekPreRoll = 80 * time.Millisecond // WebM's rule for Opus tracks
	muxingApp       = "attache/internal/recording (ebml-go)"
)

var (
	idSegment = []byte{0x18, 0x53, 0x80, 0x67}
	// an 8-byte "unknown" EBML size, for the live file's Segment
	unknownSize = []byte{0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

var ebmlHeader = webm.EBMLHeader{
	EBMLVersion:        1,
	EBMLReadVersion:    1,
	EBMLMaxIDLength:    4,
	EBMLMaxSizeLength:  8,
	DocType:            "webm",
	DocTypeVersion:     4,
	DocTypeReadVersion: 2,
}

// clusterRef indexes one written cluster.
type clusterRef struct {
	timecode int64 // ms from the recording's start
	offset   int64 // from the first cluster
	keyframe bool  // its first block is a key frame
}

// muxer writes the live WebM of one track to w.
type muxer struct {
	w     io.Writer
	entry webm.TrackEntry
	date  time.Time

	headerLen   int64 // bytes before the first cluster
	clustersLen int64 // bytes of clusters written

	open      bool // a cluster is being filled
	timecode  int64
	blocks    []ebml.Block
	size      int
	firstKey  bool
	index     []clusterRef
	marshaled bytes.Buffer
}

func newMuxer(w io.Writer, c codec, name string, start time.Time) (*muxer, error) {
	var uid [8]byte
	if _, err := rand.Read(uid[:]); err != nil {
		return nil, err
	}
	entry := webm.TrackEntry{
		Name:        name,
		TrackNumber: trackNumber,
		TrackUID:    binary.BigEndian.Uint64(uid[:])>>1 | 1, // non-zero
		CodecID:     c.webmID,
	}
	if c.video {
		entry.TrackType = 1
	} else {
		entry.TrackType = 2
		entry.CodecPrivate = opusHead()
		entry.SeekPreRoll = uint64(opusSeekPreRoll)
		entry.Audio = &webm.Audio{SamplingFrequency: 48000, Channels: 2}
	}
	return &muxer{w: w, entry: entry, date: start.UTC()}, nil
}

// started reports whether the header has been written.
func (m *muxer) started() bool { return m.headerLen > 0 }

// start writes the live header. A video track needs its size, known from the
// first key frame.
func (m *muxer) start(width, height int) error {
	if m.entry.TrackType == 1 {
		m.entry.Video = &webm.Video{PixelWidth: uint64(width), PixelHeight: uint64(height)}
	}
	var b bytes.Buffer
	if err := marshal(&b, &struct{ EBML webm.EBMLHeader }{ebmlHeader}); err != nil {
		return err
	}
	b.Write(idSegment)
	b.Write(unknownSize)
	if err := marshal(&b, &struct{ Info webm.Info }{m.info(0)}); err != nil {
		return err
	}
	if err := marshal(&b, &struct{ Tracks webm.Tracks }{webm.Tracks{TrackEntry: []webm.TrackEntry{m.entry}}}); err != nil {
		return err
	}
	if _, err := m.w.Write(b.Bytes()); err != nil {
		return err
	}
	m.headerLen = int64(b.Len())
	return nil
}

func (m *muxer) info(duration float64) webm.Info {
	return webm.Info{
		TimecodeScale: timestampScale,
		MuxingApp:     muxingApp,
		WritingApp:    muxingApp,
		Duration:      duration,
		DateUTC:       m.date,
	}
}

// write adds one frame at ts milliseconds from the recording's start. ts
// never decreases from one call to the next.
func (m *muxer) write(ts int64, keyframe bool, frame []byte) error {
	if m.open && (keyframe && m.entry.TrackType == 1 ||
		ts-m.timecode >= maxClusterDuration || m.size+len(frame) > maxClusterSize) {
		if err := m.flush(); err != nil {
			return err
		}
	}
	if !m.open {
		m.open, m.timecode, m.firstKey, m.size = true, ts, keyframe, 0
		m.blocks = m.blocks[:0]
	}
	m.blocks = append(m.blocks, ebml.Block{
		TrackNumber: trackNumber,
		Timecode:    int16(ts - m.timecode),
		Keyframe:    keyframe,
		Data:        [][]byte{frame},
	})
	m.size += len(frame)
	return nil
}

// flush writes the cluster being filled, if any.
func (m *muxer) flush() error {
	if !m.open {
		return nil
	}
	m.open = false
	m.marshaled.Reset()
	err := marshal(&m.marshaled, &struct{ Cluster webm.Cluster }{webm.Cluster{Timecode: uint64(m.timecode), SimpleBlock: m.blocks}})
	clear(m.blocks) // let the frames go
	if err != nil {
		return err
	}
	if _, err := m.w.Write(m.marshaled.Bytes()); err != nil {
		return err
	}
	m.index = append(m.index, clusterRef{timecode: m.timecode, offset: m.clustersLen, keyframe: m.firstKey})
	m.clustersLen += int64(m.marshaled.Len())
	return nil
}

// finalHeader returns everything the finished file holds before its
// clusters: the EBML header, the Segment's ID and size, a SeekHead, Info with
// the duration (in ms), Tracks and Cues.
func (m *muxer) finalHeader(duration float64) ([]byte, error) {
	var info, tracks bytes.Buffer
	if err := marshal(&info, &struct{ Info webm.Info }{m.info(duration)}); err != nil {
		return nil, err
	}
	if err := marshal(&tracks, &struct{ Tracks webm.Tracks }{webm.Tracks{TrackEntry: []webm.TrackEntry{m.entry}}}); err != nil {
		return nil, err
	}
	// Positions are relative to the start of the Segment's data, and the
	// sizes of SeekHead and Cues depend on the positions they hold: repeat
	// until the layout no longer moves (twice or three times in practice).
	var seek, cues bytes.Buffer
	seekLen, cuesLen := -1, -1
	for range 8 {
		if seek.Len() == seekLen && cues.Len() == cuesLen {
			var b bytes.Buffer
			if err := marshal(&b, &struct{ EBML webm.EBMLHeader }{ebmlHeader}); err != nil {
				return nil, err
			}
			segLen := int64(seek.Len()+info.Len()+tracks.Len()+cues.Len()) + m.clustersLen
			b.Write(idSegment)
			b.Write(sizeVint(segLen))
			b.Write(seek.Bytes())
			b.Write(info.Bytes())
			b.Write(tracks.Bytes())
			b.Write(cues.Bytes())
			return b.Bytes(), nil
		}
		seekLen, cuesLen = seek.Len(), cues.Len()
		infoPos := uint64(max(seekLen, 0))
		tracksPos := infoPos + uint64(info.Len())
		cuesPos := tracksPos + uint64(tracks.Len())
		clustersPos := cuesPos + uint64(max(cuesLen, 0))

		var points []webm.CuePoint
		for _, c := range m.index {
			if !c.keyframe {
				continue
			}
			points = append(points, webm.CuePoint{
				CueTime: uint64(c.timecode),
				CueTrackPositions: []webm.CueTrackPosition{{
					CueTrack:           trackNumber,
					CueClusterPosition: clustersPos + uint64(c.offset),
				}},
			})
		}
		seeks := []webm.Seek{
			{SeekID: ebml.ElementInfo.Bytes(), SeekPosition: infoPos},
			{SeekID: ebml.ElementTracks.Bytes(), SeekPosition: tracksPos},
		}
		seek.Reset()
		cues.Reset()
		if len(points) > 0 {
			seeks = append(seeks, webm.Seek{SeekID: ebml.ElementCues.Bytes(), SeekPosition: cuesPos})
			if err := marshal(&cues, &struct{ Cues webm.Cues }{webm.Cues{CuePoint: points}}); err != nil {
				return nil, err
			}
		}
		if err := marshal(&seek, &struct{ SeekHead webm.SeekHead }{webm.SeekHead{Seek: seeks}}); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("webm: header layout does not settle")
}

// marshal writes v, a pointer to a one-field struct whose field is named
// after the element (ebml-go takes element names from field names or tags).
func marshal(w io.Writer, v any) error {
	if err := ebml.Marshal(v, w); err != nil {
		return fmt.Errorf("webm: write %T: %w", v, err)
	}
	return nil
}

// sizeVint encodes n as an 8-byte EBML size.
func sizeVint(n int64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(n))
	b[0] = 0x01
	return b
}
