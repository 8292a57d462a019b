package signer

import (
	"fmt"
	"strings"

	"esign/pdf"
)

// change is what an operation does to a document, as far as the
// permissions of an encrypted one (/P, ISO 32000-1 Table 22) care.
type change struct {
	// fill names the existing empty signature field signed.
	fill string
	// newFields describes the signature fields created: the signature's
	// own when no empty field of its name exists, a document timestamp's.
	newFields []string
	// validation adds validation data (the DSS) for signatures already
	// there: part of signing, so it needs what filling a field needs.
	validation bool
	// overlays draw into page content; attachments embed files.
	overlays, attachments bool
}

// signChange is what Sign does with opts to a document with fields.
func signChange(fields []field, opts Options) change {
	c := change{overlays: len(opts.Overlays) > 0, attachments: len(opts.Attachments) > 0}
	name := opts.Field
	for _, f := range fields {
		if name != "" && f.name == name {
			c.fill = name
		}
	}
	if c.fill == "" {
		if name == "" {
			name = nextFieldName(fields, "Signature")
		}
		c.newFields = append(c.newFields, fmt.Sprintf("signature field %q", name))
	}
	if opts.Level == LevelLTA {
		c.newFields = append(c.newFields, "a document timestamp's signature field")
	}
	return c
}

// checkPermissions refuses a change the permissions of an encrypted
// document do not allow (ErrPermissions), naming what is forbidden:
//
//   - filling an existing empty signature field, or adding validation
//     data for the signatures, needs bit 9 or bit 6;
//   - creating a signature field (and its widget annotation) needs bits
//     6 and 4: bit 6 allows creating form fields only "if bit 4 is also
//     set", and bit 9 fills existing fields only;
//   - drawing into page content and embedding files need bit 4.
//
// The owner password lifts them all.
func checkPermissions(sec *pdf.Security, c change) error {
	if sec == nil || sec.Owner {
		return nil
	}
	var forbidden []string
	if c.overlays && !sec.CanModify {
		forbidden = append(forbidden, "drawing overlays into page content (needs /P bit 4, modify contents)")
	}
	if c.attachments && !sec.CanModify {
		forbidden = append(forbidden, "embedding files (needs /P bit 4, modify contents)")
	}
	if len(c.newFields) > 0 && !sec.CanAddFields {
		what := "creating " + strings.Join(c.newFields, " and ") + " (needs /P bits 6 and 4, annotations and forms with modify contents"
		if sec.CanSign {
			what += "; bit 9 alone lets only an existing empty signature field be signed"
		}
		forbidden = append(forbidden, what+")")
	}
	if (c.fill != "" || c.validation) && !sec.CanSign {
		what := "adding validation data for its signatures"
		if c.fill != "" {
			what = fmt.Sprintf("filling in the signature field %q", c.fill)
		}
		forbidden = append(forbidden, what+" (needs /P bit 9, fill in form fields, or bit 6)")
	}
	if len(forbidden) == 0 {
		return nil
	}
	return fmt.Errorf("%w: the file is encrypted (%s) with permissions (/P %d) that forbid %s; give the owner password to lift them",
		ErrPermissions, sec.Handler, int32(sec.Permissions), strings.Join(forbidden, ", and "))
}
