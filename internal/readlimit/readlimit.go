// Package readlimit reads small files an operator names (PINs, chains)
// without trusting their size.
package readlimit

import (
	"fmt"
	"io"
	"os"
)

// File reads at most limit bytes of path and fails if it is longer.
func File(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: longer than %d bytes", path, limit)
	}
	return b, nil
}
