package qrstamp

import (
	"bytes"
	"compress/zlib"
	"fmt"

	"esign/pdf"
)

// flateForm makes a stream of data compressed with FlateDecode.
func flateForm(d pdf.Dict, data []byte) (*pdf.Stream, error) {
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("compress QR form: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress QR form: %w", err)
	}
	d["Filter"] = pdf.Name("FlateDecode")
	return &pdf.Stream{Dict: d, Data: b.Bytes()}, nil
}
