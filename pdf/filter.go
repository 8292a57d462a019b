package pdf

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge reports decoded data over the reader's budget: the defence
// against decompression bombs.
var ErrTooLarge = errors.New("pdf: decoded data exceeds limit")

// ErrUnsupportedFilter reports a stream filter the reader does not decode.
var ErrUnsupportedFilter = errors.New("pdf: unsupported stream filter")

// decode applies the stream's filters to raw, producing at most limit bytes.
func decode(d Dict, raw []byte, limit int64, resolve func(Object) (Object, error)) ([]byte, error) {
	fo, err := resolve(d["Filter"])
	if err != nil {
		return nil, err
	}
	po, err := resolve(d["DecodeParms"])
	if err != nil {
		return nil, err
	}
	var filters []Name
	var params []Object
	switch f := fo.(type) {
	case nil:
		if int64(len(raw)) > limit {
			return nil, ErrTooLarge
		}
		return raw, nil
	case Name:
		filters = []Name{f}
		params = []Object{po}
	case Array:
		for _, x := range f {
			n, ok := x.(Name)
			if !ok {
				return nil, fmt.Errorf("%w: filter array holds %T", ErrSyntax, x)
			}
			filters = append(filters, n)
		}
		if pa, ok := po.(Array); ok {
			params = pa
		}
	default:
		return nil, fmt.Errorf("%w: /Filter is %T", ErrSyntax, fo)
	}
	data := raw
	for i, f := range filters {
		var p Dict
		if i < len(params) {
			pp, err := resolve(params[i])
			if err != nil {
				return nil, err
			}
			p, _ = pp.(Dict)
		}
		switch f {
		case "FlateDecode", "Fl":
			data, err = inflate(data, limit)
			if err != nil {
				return nil, err
			}
			data, err = unpredict(data, p)
			if err != nil {
				return nil, err
			}
		case "Crypt":
			// RawStream decrypted the data with this crypt filter already.
		case "ASCIIHexDecode", "AHx":
			data, err = asciiHex(data)
			if err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: %s", ErrUnsupportedFilter, f)
		}
	}
	if int64(len(data)) > limit {
		return nil, ErrTooLarge
	}
	return data, nil
}

func inflate(raw []byte, limit int64) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("flate: %w", err)
	}
	defer zr.Close()
	// Decode into chunks and join them once at the end: a buffer that
	// doubles as it grows holds up to four times the output at its peak,
	// with the old copies, and a decompression bomb aims at exactly that.
	var (
		chunks [][]byte
		total  int64
		rerr   error
	)
	for size := 32 << 10; ; size = min(size*2, 1<<20) {
		c := make([]byte, size)
		n, err := io.ReadFull(zr, c)
		if total += int64(n); total > limit {
			return nil, ErrTooLarge
		}
		if n > 0 {
			chunks = append(chunks, c[:n])
		}
		if err != nil {
			rerr = err
			break
		}
	}
	// Many producers end streams without the zlib checksum; keep what
	// decoded, as other readers do.
	if rerr != io.EOF && !errors.Is(rerr, io.ErrUnexpectedEOF) && total == 0 {
		return nil, fmt.Errorf("flate: %w", rerr)
	}
	switch len(chunks) {
	case 0:
		return []byte{}, nil
	case 1:
		return chunks[0], nil
	}
	out := make([]byte, 0, total)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out, nil
}

func asciiHex(raw []byte) ([]byte, error) {
	// The data ends at '>' (§7.4.2).
	if k := bytes.IndexByte(raw, '>'); k >= 0 {
		raw = raw[:k]
	}
	out, _, ok := decodeHex(raw)
	if !ok {
		return nil, fmt.Errorf("%w: bad ASCIIHex digit", ErrSyntax)
	}
	return out, nil
}

// unpredict reverses the PNG and TIFF predictors (§7.4.4.4) that xref and
// object streams commonly use.
func unpredict(data []byte, p Dict) ([]byte, error) {
	pred := intOr(p["Predictor"], 1)
	if pred <= 1 {
		return data, nil
	}
	colors := intOr(p["Colors"], 1)
	bpc := intOr(p["BitsPerComponent"], 8)
	columns := intOr(p["Columns"], 1)
	if colors < 1 || colors > 32 || columns < 1 || columns > 1<<20 || (bpc != 1 && bpc != 2 && bpc != 4 && bpc != 8 && bpc != 16) {
		return nil, fmt.Errorf("%w: bad predictor parameters", ErrSyntax)
	}
	bpp := (colors*bpc + 7) / 8
	rowLen := (colors*bpc*columns + 7) / 8
	if pred == 2 {
		if bpc != 8 {
			return nil, fmt.Errorf("%w: TIFF predictor with %d bits", ErrUnsupportedFilter, bpc)
		}
		out := append([]byte(nil), data...)
		for r := 0; r+rowLen <= len(out); r += rowLen {
			for i := bpp; i < rowLen; i++ {
				out[r+i] += out[r+i-bpp]
			}
		}
		return out, nil
	}
	if pred < 10 {
		return nil, fmt.Errorf("%w: predictor %d", ErrUnsupportedFilter, pred)
	}
	if len(data) == 0 {
		return data, nil
	}
	// A row longer than the data cannot be whole: refusing it keeps a few
	// bytes of input from asking for a 64 MiB row.
	if rowLen >= len(data) {
		return nil, fmt.Errorf("%w: predictor rows of %d bytes in %d bytes of data", ErrSyntax, rowLen, len(data))
	}
	// Each row is a filter-type byte and rowLen bytes, so the output is
	// never larger than the input (but for the last row's padding).
	out := make([]byte, 0, len(data))
	var prev []byte
	for r := 0; r < len(data); r += rowLen + 1 {
		typ := data[r]
		end := min(r+1+rowLen, len(data))
		start := len(out)
		out = append(out, data[r+1:end]...)
		for len(out)-start < rowLen {
			out = append(out, 0)
		}
		row := out[start:]
		for i := 0; i < rowLen; i++ {
			var left, up, upLeft byte
			if i >= bpp {
				left = row[i-bpp]
			}
			if prev != nil {
				up = prev[i]
				if i >= bpp {
					upLeft = prev[i-bpp]
				}
			}
			switch typ {
			case 0:
			case 1:
				row[i] += left
			case 2:
				row[i] += up
			case 3:
				row[i] += byte((int(left) + int(up)) / 2)
			case 4:
				row[i] += paeth(left, up, upLeft)
			default:
				return nil, fmt.Errorf("%w: PNG filter type %d", ErrSyntax, typ)
			}
		}
		prev = row
	}
	return out, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func intOr(o Object, def int) int {
	if i, ok := o.(Integer); ok && i >= -1<<31 && i <= 1<<31-1 {
		return int(i)
	}
	return def
}
