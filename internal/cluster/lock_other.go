//go:build !unix

package cluster

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// lockFile makes path exclusively; a file left by a process that died must
// be removed by hand on these systems.
func lockFile(path string) (io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, ErrSecondProcess
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return removeOnClose{f}, nil
}

type removeOnClose struct{ *os.File }

func (r removeOnClose) Close() error {
	err := r.File.Close()
	return errors.Join(err, os.Remove(r.Name()))
}
