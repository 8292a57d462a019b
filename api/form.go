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
	"esign/signopts"
)

// Limits of the multipart reader beside the upload limit itself.
const (
	maxFields     = 64       // text fields in one request
	maxFieldBytes = 64 << 10 // one text field
	// memoryUpload is how much of one upload may stay in memory before
	// the rest goes to a temporary file, when the shared budget
	// (Config.UploadMemory) has room.
	memoryUpload = 32 << 20
	// firstBuffer is the pooled buffer an upload starts in; a small
	// document never needs more.
	firstBuffer = 256 << 10
	// maxPooled bounds the buffers kept for reuse.
	maxPooled = 4 << 20
	// readBuffer is the read size under the multipart reader.
	readBuffer = 64 << 10
)

// form is a parsed multipart request. It is read in one pass straight from
// the connection: the PDF goes into a pooled buffer (or a temporary file
// past memoryUpload, or past the shared budget), not through ParseMultipartForm's growing copies,
// which cost more than the PDF work on a small document.
type form struct {
	release func() // gives back the place among the uploads in flight
	values  map[string]string
	file    *upload
	files   signopts.Files
	// held is what the attachment holds of the memory budget.
	held   int64
	budget *memBudget
}

func (f *form) get(name string) string { return f.values[name] }

// close releases the upload's buffer or temporary file.
func (f *form) close() {
	if f == nil {
		return
	}
	if f.file != nil {
		f.file.Close()
	}
	if f.release != nil {
		f.release()
		f.release = nil
	}
	if f.held > 0 {
		f.budget.give(f.held)
		f.held = 0
	}
}

// upload is the uploaded PDF: an io.ReaderAt over memory or a file.
type upload struct {
	mem    []byte
	tmp    *os.File
	size   int64
	pool   *sync.Pool
	budget *memBudget
	held   int64 // of the budget, for mem
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
	if u.pool != nil && u.mem != nil && cap(u.mem) <= maxPooled {
		b := u.mem[:0]
		u.pool.Put(&b)
	}
	if u.budget != nil {
		u.budget.give(u.held)
	}
	u.mem, u.pool, u.held = nil, nil, 0
	return nil
}

// The form fields each endpoint understands, besides "file". A request
// with any other is refused, not half-understood.
var (
	// "password" opens an encrypted PDF; only /sign takes it, never a
	// batch, whose options are stored.
	signFields   = fieldSet(append([]string{"password"}, signopts.Names...)...)
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
	// A place among the uploads in flight, held until the form is closed:
	// spooled to disk, each may take MaxUpload of it.
	select {
	case s.uploads <- struct{}{}:
	default:
		return nil, fmt.Errorf("%w: %d uploads are in flight", errTooManyUploads, cap(s.uploads))
	}
	f := &form{values: map[string]string{}, release: func() { <-s.uploads }, budget: s.memory}
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
		err = s.readPart(f, part, c.Request.ContentLength)
		part.Close()
		if err != nil {
			f.close()
			return nil, err
		}
	}
	if f.file == nil {
		f.close()
		return nil, fmt.Errorf("%w: missing form field \"file\"", errBadRequest)
	}
	return f, nil
}

func (s *Server) readPart(f *form, part *multipart.Part, hint int64) error {
	switch name := part.FormName(); name {
	case "file":
		if f.file != nil {
			return fmt.Errorf("%w: more than one \"file\"", errBadRequest)
		}
		u, err := s.readUpload(part, hint)
		if err != nil {
			return err
		}
		f.file = u
	case "image":
		b, err := io.ReadAll(io.LimitReader(part, maxImage+1))
		if err != nil {
			return clientReadError("read signature image", err, s.cfg.MaxUpload)
		}
		if len(b) > maxImage {
			return fmt.Errorf("%w: the signature image is over %d bytes", errBadRequest, maxImage)
		}
		f.files.Image = b
	case "attachment":
		if f.files.Attachment != nil {
			return fmt.Errorf("%w: more than one \"attachment\"", errBadRequest)
		}
		b, err := s.readAttachment(f, part)
		if err != nil {
			return err
		}
		f.files.Attachment = &signopts.File{Name: part.FileName(), Data: b}
	default:
		if len(f.values) >= maxFields {
			return fmt.Errorf("%w: more than %d form fields", errBadRequest, maxFields)
		}
		b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
		if err != nil {
			return clientReadError(fmt.Sprintf("read form field %q", name), err, s.cfg.MaxUpload)
		}
		if len(b) > maxFieldBytes {
			return fmt.Errorf("%w: form field %q is over %d bytes", errBadRequest, name, maxFieldBytes)
		}
		f.values[name] = string(b)
	}
	return nil
}

// readAttachment reads the attached file within the shared memory
// budget, which it holds until the form is closed: attachments in flight
// must not grow the daemon without bound, so past the budget the request
// is refused as busy.
func (s *Server) readAttachment(f *form, part io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	chunk := make([]byte, readBuffer)
	for {
		n, err := part.Read(chunk)
		if n > 0 {
			if buf.Len()+n > signopts.MaxAttachment {
				return nil, fmt.Errorf("%w: the attachment is over %d bytes", errRequestTooLarge, signopts.MaxAttachment)
			}
			buf.Write(chunk[:n])
			// The buffer's capacity, not just the bytes: that is what it
			// holds.
			if grow := int64(buf.Cap()) - f.held; grow > 0 {
				if !s.memory.take(grow) {
					return nil, fmt.Errorf("%w: the memory for attachments in flight is taken", errTooManyUploads)
				}
				f.held += grow
			}
		}
		if errors.Is(err, io.EOF) {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, clientReadError("read attachment", err, s.cfg.MaxUpload)
		}
	}
}

// readUpload reads the PDF into memory, as far as the shared memory budget
// and memoryUpload allow, and spools the rest to a temporary file; it
// enforces MaxUpload. hint is the request's Content-Length (or -1): the
// file is no longer, so a known length sizes the buffer once.
func (s *Server) readUpload(part io.Reader, hint int64) (*upload, error) {
	u := &upload{pool: &s.buffers, budget: s.memory}
	limit := min(s.cfg.MaxUpload, memoryUpload)
	bp, _ := s.buffers.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, firstBuffer)
		bp = &b
	}
	buf := (*bp)[:0]
	if !s.memory.take(int64(cap(buf))) {
		// Many uploads in flight already hold the budget: straight to disk.
		s.buffers.Put(bp)
		return s.spool(u, nil, part)
	}
	u.held = int64(cap(buf))
	for {
		if len(buf) == cap(buf) {
			// Towards the announced length, but at most sixteen times
			// what arrived: a client announcing 32 MiB and sending slowly
			// must not hold 32 MiB of the budget for its first bytes, and
			// few steps leave little garbage behind.
			next := min(max(2*int64(cap(buf)), min(hint, 16*int64(cap(buf)))), limit)
			if next <= int64(cap(buf)) || !s.memory.take(next-int64(cap(buf))) {
				u.mem = buf
				return s.spool(u, buf, part)
			}
			u.held += next - int64(cap(buf))
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			if cap(buf) <= maxPooled {
				b := buf[:0]
				s.buffers.Put(&b)
			}
			buf = grown
		}
		n, err := part.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			u.mem, u.size = buf, int64(len(buf))
			if u.size > s.cfg.MaxUpload {
				u.Close()
				return nil, fmt.Errorf("%w: the limit is %d bytes", errRequestTooLarge, s.cfg.MaxUpload)
			}
			return u, nil
		}
		if err != nil {
			u.mem = buf
			u.Close()
			return nil, clientReadError("read upload", err, s.cfg.MaxUpload)
		}
	}
}

// spool moves an upload to a temporary file: head, what is already read,
// then the rest of part. The memory head held goes back to the budget.
func (s *Server) spool(u *upload, head []byte, part io.Reader) (*upload, error) {
	tmp, err := os.CreateTemp("", "esign-upload-*.pdf")
	if err != nil {
		u.Close()
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	_, werr := tmp.Write(head)
	inMemory := int64(len(head))
	u.Close() // the buffer and its budget go back only once written out
	u.tmp = tmp
	if werr != nil {
		u.Close()
		return nil, fmt.Errorf("spool upload: %w", werr)
	}
	rest, err := io.Copy(tmp, io.LimitReader(clientReader{part}, s.cfg.MaxUpload-inMemory+1))
	if err != nil {
		u.Close()
		var ce clientErr
		if errors.As(err, &ce) {
			return nil, clientReadError("spool upload", ce.err, s.cfg.MaxUpload)
		}
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	u.size = inMemory + rest
	if u.size > s.cfg.MaxUpload {
		u.Close()
		return nil, fmt.Errorf("%w: the limit is %d bytes", errRequestTooLarge, s.cfg.MaxUpload)
	}
	return u, nil
}

// clientReader marks the errors of reading the request, so that copying
// it to disk tells the client's failures (a body cut short, a dropped
// connection) from the disk's.
type clientReader struct{ r io.Reader }

type clientErr struct{ err error }

func (e clientErr) Error() string { return e.err.Error() }
func (e clientErr) Unwrap() error { return e.err }

func (c clientReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = clientErr{err}
	}
	return n, err
}

// clientReadError is a failure to read the request body: 413 past the
// limit, else 400. A truncated body or a client gone mid-upload is the
// client's mistake; no one may be left to read the answer, but the log,
// the audit and the metrics must not count it as the service's fault.
func clientReadError(what string, err error, limit int64) error {
	return tooLargeOr(err, fmt.Errorf("%w: %s: %v", errBadRequest, what, err), limit)
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
