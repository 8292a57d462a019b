package api

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"sync"

	"github.com/gin-gonic/gin"

	"esign/signer"
)

// Limits of the multipart reader beside the upload limit itself.
const (
	maxFields     = 64       // text fields in one request
	maxFieldBytes = 64 << 10 // one text field
	// memoryUpload is how much of an upload stays in memory before the
	// rest goes to a temporary file.
	memoryUpload = 32 << 20
	// readBuffer is the read size under the multipart reader.
	readBuffer = 64 << 10
)

// form is a parsed multipart request. It is read in one pass straight from
// the connection: the PDF goes into a pooled buffer (or a temporary file
// past memoryUpload), not through ParseMultipartForm's growing copies,
// which cost more than the PDF work on a small document.
type form struct {
	values map[string]string
	file   *upload
	image  []byte
}

func (f *form) get(name string) string { return f.values[name] }

func (f *form) getDefault(name, def string) string {
	if v, ok := f.values[name]; ok && v != "" {
		return v
	}
	return def
}

// close releases the upload's buffer or temporary file.
func (f *form) close() {
	if f != nil && f.file != nil {
		f.file.Close()
	}
}

// upload is the uploaded PDF: an io.ReaderAt over memory or a file.
type upload struct {
	mem  []byte
	tmp  *os.File
	size int64
	pool *sync.Pool
}

func (u *upload) ReadAt(p []byte, off int64) (int, error) {
	if u.tmp != nil {
		return u.tmp.ReadAt(p, off)
	}
	return signer.Bytes(u.mem).ReadAt(p, off)
}

// input is what the signer reads: the memory itself when the upload is
// in memory, so it is hashed and written out in place.
func (u *upload) input() io.ReaderAt {
	if u.tmp == nil {
		return signer.Bytes(u.mem[:u.size])
	}
	return u
}

// Close returns the buffer to the pool, or removes the temporary file.
func (u *upload) Close() error {
	if u.tmp != nil {
		name := u.tmp.Name()
		u.tmp.Close()
		return os.Remove(name)
	}
	if u.pool != nil && cap(u.mem) <= 4<<20 {
		b := u.mem[:0]
		u.pool.Put(&b)
	}
	u.mem, u.pool = nil, nil
	return nil
}

// The form fields each endpoint understands, besides "file". A request
// with any other is refused, not half-understood.
var (
	signFields = fieldSet("signer", "level", "certify", "reason", "location", "contact", "field", "lock",
		"visible", "page", "rect", "image", "activation",
		"doc_number", "doc_date", "subject", "urgency", "secrecy")
	fieldsFields = fieldSet("fields")
)

func fieldSet(names ...string) map[string]bool {
	m := map[string]bool{"file": true}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// readForm reads the request's multipart body within the upload limit;
// known lists the field names the endpoint understands.
func (s *Server) readForm(c *gin.Context, known map[string]bool) (*form, error) {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxUpload+64<<10)
	// multipart.Reader reads 4 KB at a time; a large buffer under it
	// turns the ~30 socket reads of a 115 KB upload into two or three.
	br, _ := s.readers.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReaderSize(body, readBuffer)
	} else {
		br.Reset(body)
	}
	defer func() {
		br.Reset(nil)
		s.readers.Put(br)
	}()
	c.Request.Body = struct {
		io.Reader
		io.Closer
	}{br, body}
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("%w: want multipart/form-data: %v", errBadRequest, err)
	}
	f := &form{values: map[string]string{}}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.close()
			return nil, tooLargeOr(err, fmt.Errorf("%w: malformed multipart body: %v", errBadRequest, err), s.cfg.MaxUpload)
		}
		if name := part.FormName(); !known[name] {
			part.Close()
			f.close()
			return nil, fmt.Errorf("%w: form field %q is not one this endpoint takes", errUnknownField, name)
		}
		err = s.readPart(f, part)
		part.Close()
		if err != nil {
			f.close()
			return nil, err
		}
	}
	if f.file == nil {
		return nil, fmt.Errorf("%w: missing form field \"file\"", errBadRequest)
	}
	return f, nil
}

func (s *Server) readPart(f *form, part *multipart.Part) error {
	switch name := part.FormName(); name {
	case "file":
		if f.file != nil {
			return fmt.Errorf("%w: more than one \"file\"", errBadRequest)
		}
		u, err := s.readUpload(part)
		if err != nil {
			return err
		}
		f.file = u
	case "image":
		b, err := io.ReadAll(io.LimitReader(part, maxImage+1))
		if err != nil {
			return tooLargeOr(err, fmt.Errorf("read signature image: %w", err), s.cfg.MaxUpload)
		}
		if len(b) > maxImage {
			return fmt.Errorf("%w: the signature image is over %d bytes", errBadRequest, maxImage)
		}
		f.image = b
	default:
		if len(f.values) >= maxFields {
			return fmt.Errorf("%w: more than %d form fields", errBadRequest, maxFields)
		}
		b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
		if err != nil {
			return tooLargeOr(err, fmt.Errorf("read form field %q: %w", name, err), s.cfg.MaxUpload)
		}
		if len(b) > maxFieldBytes {
			return fmt.Errorf("%w: form field %q is over %d bytes", errBadRequest, name, maxFieldBytes)
		}
		f.values[name] = string(b)
	}
	return nil
}

// readUpload reads the PDF into a pooled buffer, spilling to a temporary
// file past memoryUpload, and enforces MaxUpload.
func (s *Server) readUpload(part io.Reader) (*upload, error) {
	bp, _ := s.buffers.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 256<<10)
		bp = &b
	}
	buf := bytes.NewBuffer((*bp)[:0])
	u := &upload{pool: &s.buffers}
	limit := min(s.cfg.MaxUpload, memoryUpload)
	n, err := buf.ReadFrom(io.LimitReader(part, limit+1))
	u.mem = buf.Bytes()
	if err != nil {
		u.Close()
		return nil, tooLargeOr(err, fmt.Errorf("read upload: %w", err), s.cfg.MaxUpload)
	}
	if n <= limit {
		u.size = n
		return u, nil
	}
	if n > s.cfg.MaxUpload {
		u.Close()
		return nil, fmt.Errorf("%w: the limit is %d bytes", errRequestTooLarge, s.cfg.MaxUpload)
	}
	// A large scan: keep it on disk, not in memory.
	tmp, err := os.CreateTemp("", "esign-upload-*.pdf")
	if err != nil {
		u.Close()
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	_, werr := tmp.Write(u.mem)
	inMemory := int64(len(u.mem))
	u.Close() // the buffer goes back to the pool only once written out
	u.tmp = tmp
	if werr != nil {
		u.Close()
		return nil, fmt.Errorf("spool upload: %w", werr)
	}
	rest, err := io.Copy(tmp, io.LimitReader(part, s.cfg.MaxUpload-inMemory+1))
	if err != nil {
		u.Close()
		return nil, tooLargeOr(err, fmt.Errorf("spool upload: %w", err), s.cfg.MaxUpload)
	}
	u.size = inMemory + rest
	if u.size > s.cfg.MaxUpload {
		u.Close()
		return nil, fmt.Errorf("%w: the limit is %d bytes", errRequestTooLarge, s.cfg.MaxUpload)
	}
	return u, nil
}

// tooLargeOr turns a body-limit error into 413, and returns other
// otherwise.
func tooLargeOr(err, other error, limit int64) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return fmt.Errorf("%w: the limit is %d bytes", errRequestTooLarge, limit)
	}
	return other
}
