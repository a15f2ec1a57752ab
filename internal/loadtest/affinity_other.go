//go:build !linux

package loadtest

import "errors"

var errNoPinning = errors.New("loadtest: pinning to CPUs needs Linux")

func allowedCPUs() ([]int, error) { return nil, errNoPinning }

func pinTo([]int) error { return errNoPinning }
