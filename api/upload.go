package api

import (
	"io"

	"github.com/gin-gonic/gin"
)

// keyServer holds the Server on authenticated requests, so the endpoints
// of other packages (Config.Routes) read uploads as /sign does.
const keyServer = "server"

// Upload is a multipart request read by the API's own form reader: the
// upload limit, the memory budget with spooling to disk, the bound on
// uploads in flight and the refusal of unknown fields, all as for /sign.
type Upload struct{ f *form }

// ReadUpload reads the request's multipart/form-data body, which must
// hold "file" and may hold the fields named, on a route added through
// Config.Routes. Its errors are answered by Abort: 400 unknown_field or
// bad_request, 413 too_large, 503 busy. Close the Upload when done.
func ReadUpload(c *gin.Context, fields ...string) (*Upload, error) {
	s := c.MustGet(keyServer).(*Server)
	f, err := s.readForm(c, fieldSet(fields...))
	if err != nil {
		return nil, err
	}
	return &Upload{f: f}, nil
}

// Value is the text field name, or "".
func (u *Upload) Value(name string) string { return u.f.get(name) }

// File is the uploaded PDF, held in memory or spooled to disk.
func (u *Upload) File() io.ReaderAt { return u.f.file.input() }

// Size is the uploaded PDF's length.
func (u *Upload) Size() int64 { return u.f.file.size }

// Close releases the upload's buffer or temporary file and its place
// among the uploads in flight.
func (u *Upload) Close() { u.f.close() }
