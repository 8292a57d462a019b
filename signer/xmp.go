package signer

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"esign/pdf"
)

// nsPDFAID is the PDF/A identification schema (ISO 19005-1 §6.7.11).
const nsPDFAID = "http://www.aiim.org/pdfa/ns/id/"

// Bounds on reading the catalog's XMP packet: it is the input's, so
// anyone's.
const (
	maxXMPBytes  = 4 << 20
	maxXMPTokens = 200000
)

// pdfaID is what the XMP packet says of PDF/A conformance.
type pdfaID struct {
	Part        int    // 0 when the file claims no PDF/A part
	Conformance string // A, B, U or empty
}

// documentPDFA reads the PDF/A identification from the catalog's
// /Metadata. A file without metadata, or with metadata that is not XMP,
// claims no part.
func documentPDFA(r *pdf.Reader, cat pdf.Dict) (pdfaID, error) {
	o, err := r.Resolve(cat["Metadata"])
	if err != nil {
		return pdfaID{}, fmt.Errorf("read /Metadata: %w", err)
	}
	st, ok := o.(*pdf.Stream)
	if !ok {
		return pdfaID{}, nil
	}
	data, err := r.StreamData(st)
	if err != nil {
		return pdfaID{}, fmt.Errorf("read /Metadata stream: %w", err)
	}
	return parsePDFAID(data)
}

// parsePDFAID finds pdfaid:part and pdfaid:conformance in an XMP packet,
// in either form RDF allows: as properties (elements) of an
// rdf:Description, or as its attributes. The first value of each wins.
func parsePDFAID(data []byte) (pdfaID, error) {
	var id pdfaID
	if len(data) > maxXMPBytes {
		return id, fmt.Errorf("XMP packet of %d bytes (at most %d)", len(data), maxXMPBytes)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = false // XMP writers are not all careful; we only look for two values
	dec.Entity = xml.HTMLEntity
	var part, conf string
	var inProp string // local name of the pdfaid property whose text is being read
	var text strings.Builder
	for n := 0; ; n++ {
		if n > maxXMPTokens {
			return id, fmt.Errorf("XMP packet has more than %d tokens", maxXMPTokens)
		}
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A packet that breaks off after the identification still
			// told us what we need.
			if part != "" {
				break
			}
			return id, fmt.Errorf("XMP packet: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			for _, a := range t.Attr {
				if a.Name.Space != nsPDFAID {
					continue
				}
				switch a.Name.Local {
				case "part":
					part = firstSet(part, a.Value)
				case "conformance":
					conf = firstSet(conf, a.Value)
				}
			}
			if t.Name.Space == nsPDFAID && (t.Name.Local == "part" || t.Name.Local == "conformance") {
				inProp = t.Name.Local
				text.Reset()
			}
		case xml.CharData:
			if inProp != "" && text.Len() < 64 {
				text.Write(t)
			}
		case xml.EndElement:
			if inProp != "" && t.Name.Space == nsPDFAID && t.Name.Local == inProp {
				if inProp == "part" {
					part = firstSet(part, text.String())
				} else {
					conf = firstSet(conf, text.String())
				}
				inProp = ""
			}
		}
	}
	if part = strings.TrimSpace(part); part != "" {
		p, err := strconv.Atoi(part)
		if err != nil || p < 1 || p > 99 {
			return id, fmt.Errorf("XMP pdfaid:part %q is not a PDF/A part", part)
		}
		id.Part = p
	}
	id.Conformance = strings.ToUpper(strings.TrimSpace(conf))
	if len(id.Conformance) > 8 {
		id.Conformance = id.Conformance[:8]
	}
	return id, nil
}

func firstSet(have, v string) string {
	if have != "" {
		return have
	}
	return v
}
