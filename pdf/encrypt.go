package pdf

import (
	"encoding/json"
	"fmt"

	"esign/pdf/crypt"
)

var (
	// ErrPasswordRequired reports an encrypted document that the empty
	// user password does not open, when no password was given.
	ErrPasswordRequired = crypt.ErrPasswordRequired
	// ErrWrongPassword reports a password that opens neither as the user
	// nor as the owner.
	ErrWrongPassword = crypt.ErrWrongPassword
	// ErrUnsupportedEncryption reports a security handler the reader does
	// not implement (public-key, unknown handlers or revisions); the
	// message names it.
	ErrUnsupportedEncryption = crypt.ErrUnsupported
)

// Security describes the encryption of a document that was opened.
type Security struct {
	// Handler names the handler, revision and method, such as
	// "Standard R6 AES-256".
	Handler string
	// Permissions is the /P value (ISO 32000-1 Table 22).
	Permissions uint32
	// Owner reports that the owner password opened the document, so its
	// permissions do not bind the caller.
	Owner bool
	// CanSign reports whether the permissions allow signing an existing
	// empty signature field (ISO 32000-1 Table 22 bit 9, or bit 6), or the
	// owner password was given.
	CanSign bool
	// CanAddFields reports whether they allow creating form fields, new
	// signature fields and their widgets among them (bits 6 and 4), or the
	// owner password was given.
	CanAddFields bool
	// CanModify reports whether they allow other changes to the contents,
	// such as drawing into a page or embedding a file (bit 4), or the owner
	// password was given.
	CanModify bool
}

// maxEncryptions bounds the distinct /Encrypt dictionaries the revisions
// of one file may have.
const maxEncryptions = 4

// security is the reader's open security handler and what it must not
// decrypt.
type security struct {
	h      *crypt.Handler
	encRef Ref    // the /Encrypt dictionary's object, whose strings are plain
	ident  string // see EncryptionIdentity
}

// Security returns the document's encryption, or nil when it has none.
func (r *Reader) Security() *Security {
	if r.sec == nil {
		return nil
	}
	h := r.sec.h
	return &Security{Handler: h.Describe(), Permissions: h.Permissions(), Owner: h.Owner(),
		CanSign: h.CanSign(), CanAddFields: h.CanAddFields(), CanModify: h.CanModify()}
}

// openSecurity reads /Encrypt and opens it with the password from the
// options. Revision readers share the handler through r.sh: for R6 the
// key derivation costs hundreds of hash rounds.
func (r *Reader) openSecurity() error {
	eo := r.trailer["Encrypt"]
	if eo == nil {
		return nil
	}
	var encRef Ref
	var d Dict
	switch v := eo.(type) {
	case Ref:
		encRef = v
		e, ok, err := r.lookup(v.Num)
		if err != nil {
			return fmt.Errorf("encryption dictionary: %w", err)
		}
		if ok && e.Type == 2 {
			// Its object stream would need the key it holds.
			return fmt.Errorf("%w: the encryption dictionary is inside an object stream", ErrSyntax)
		}
		o, err := r.Object(v)
		if err != nil {
			return fmt.Errorf("encryption dictionary: %w", err)
		}
		d, _ = o.(Dict)
	case Dict:
		d = v
	}
	if d == nil {
		return fmt.Errorf("%w: /Encrypt is not a dictionary", ErrSyntax)
	}
	p, err := r.cryptParams(d)
	if err != nil {
		return err
	}
	key := handlerKey(p)
	h, ok := r.sh.handlers[key]
	if !ok {
		// An update cannot re-encrypt a file; a file whose revisions name
		// one encryption after another would make each cost a derivation.
		if len(r.sh.handlers) >= maxEncryptions {
			return fmt.Errorf("%w: more than %d encryption dictionaries across the revisions", ErrUnsupportedEncryption, maxEncryptions)
		}
		h, err = crypt.Open(p, r.opts.Password)
		if err != nil {
			return fmt.Errorf("open encrypted document: %w", err)
		}
		r.sh.handlers[key] = h
	}
	r.sec = &security{h: h, encRef: encRef, ident: encryptionIdentity(p)}
	// Nothing read so far may stay cached undecrypted.
	r.cache = map[Ref]Object{}
	r.objstms = map[uint32]*objStm{}
	r.objstmErrs = map[uint32]error{}
	return nil
}

// handlerKey identifies a handler by everything crypt.Open derives it
// from: the parameters as resolved for this revision, an indirect /CF and
// its filters included, and /ID[0]. The /Encrypt dictionary as written is
// not enough: a later revision may rewrite an object it refers to, and a
// revision before it must not get the handler made from the new one.
func handlerKey(p crypt.Params) string {
	// Params is plain data: exported fields, sorted map keys.
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// cryptParams reads the /Encrypt dictionary; its entries must be direct
// or plain objects, never encrypted strings.
func (r *Reader) cryptParams(d Dict) (crypt.Params, error) {
	var p crypt.Params
	name := func(o Object) string {
		o, _ = r.Resolve(o)
		n, _ := o.(Name)
		return string(n)
	}
	num := func(o Object) int {
		o, _ = r.Resolve(o)
		n, _ := o.(Integer)
		if n < 0 || n > 1<<16 {
			return -1
		}
		return int(n)
	}
	str := func(o Object) []byte {
		o, _ = r.Resolve(o)
		s, _ := o.(String)
		return s.Bytes
	}
	p.Filter = name(d["Filter"])
	p.SubFilter = name(d["SubFilter"])
	p.V, p.R, p.Length = num(d["V"]), num(d["R"]), num(d["Length"])
	if p.Length < 0 {
		p.Length = 0
	}
	p.O, p.U, p.OE, p.UE, p.Perms = str(d["O"]), str(d["U"]), str(d["OE"]), str(d["UE"]), str(d["Perms"])
	pv, _ := r.Resolve(d["P"])
	if n, ok := pv.(Integer); ok {
		p.P = int32(n) // stored signed, sometimes as an unsigned 32-bit value
	}
	p.EncryptMetadata = true
	if b, ok := d["EncryptMetadata"].(Bool); ok {
		p.EncryptMetadata = bool(b)
	}
	p.StmF, p.StrF, p.EFF = name(d["StmF"]), name(d["StrF"]), name(d["EFF"])
	if cf, _ := r.Dict(d["CF"]); cf != nil {
		p.CF = map[string]crypt.Filter{}
		for k, v := range cf {
			fd, _ := r.Dict(v)
			if fd == nil {
				continue
			}
			p.CF[string(k)] = crypt.Filter{CFM: name(fd["CFM"]), Length: max(num(fd["Length"]), 0)}
		}
	}
	if id, ok := r.trailer["ID"].(Array); ok && len(id) > 0 {
		if s, ok := id[0].(String); ok {
			p.ID0 = s.Bytes
		}
	}
	return p, nil
}

// isSigDict reports a signature dictionary, whose /Contents is never
// encrypted (ISO 32000-2 §7.6.2).
func isSigDict(d Dict) bool {
	switch d["Type"] {
	case Name("Sig"), Name("DocTimeStamp"):
		return true
	case nil:
		_, br := d["ByteRange"]
		_, c := d["Contents"]
		return br && c && d["Filter"] != nil
	}
	return false
}

// decryptObject decrypts the strings of object ref in place, read from
// the file, and marks its stream for decryption when read.
func (r *Reader) decryptObject(ref Ref, o Object) (Object, error) {
	if r.sec == nil || ref == r.sec.encRef {
		return o, nil
	}
	if st, ok := o.(*Stream); ok {
		// Cross-reference streams are never encrypted (§7.6.2).
		if st.Dict["Type"] == Name("XRef") {
			return o, nil
		}
		st.cryptRef, st.encrypted = ref, true
	}
	return r.decryptStrings(ref, o, 0)
}

func (r *Reader) decryptStrings(ref Ref, o Object, depth int) (Object, error) {
	if depth > 100 {
		return nil, fmt.Errorf("%w: objects nested deeper than 100", ErrSyntax)
	}
	switch v := o.(type) {
	case String:
		if len(v.Bytes) == 0 {
			// Nothing to decrypt: some writers leave "" as it is, and no
			// cipher could have made it.
			return v, nil
		}
		b, err := r.sec.h.Decrypt(r.sec.h.StrF, ref.Num, ref.Gen, v.Bytes)
		if err != nil {
			// Never an empty string in its place: a string that does not
			// decrypt is a broken file or a wrong key, and reading it as ""
			// would hide which text was lost.
			return nil, fmt.Errorf("string in object %d %d: %w", ref.Num, ref.Gen, err)
		}
		return String{Bytes: b, Hex: v.Hex}, nil
	case Array:
		for i, x := range v {
			y, err := r.decryptStrings(ref, x, depth+1)
			if err != nil {
				return nil, err
			}
			v[i] = y
		}
	case Dict:
		sig := isSigDict(v)
		for k, x := range v {
			if sig && k == "Contents" {
				continue
			}
			y, err := r.decryptStrings(ref, x, depth+1)
			if err != nil {
				return nil, err
			}
			v[k] = y
		}
	case *Stream:
		if _, err := r.decryptStrings(ref, v.Dict, depth+1); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// streamFilter names the crypt filter of a stream: its own /Crypt filter,
// /EFF for embedded files, none for unencrypted metadata, else /StmF.
func (r *Reader) streamFilter(d Dict) (string, error) {
	h := r.sec.h
	f, err := r.Resolve(d["Filter"])
	if err != nil {
		return "", err
	}
	first := f
	if a, ok := f.(Array); ok && len(a) > 0 {
		first = a[0]
	}
	if first == Name("Crypt") {
		parms, err := r.Resolve(d["DecodeParms"])
		if err != nil {
			return "", err
		}
		if a, ok := parms.(Array); ok && len(a) > 0 {
			parms, err = r.Resolve(a[0])
			if err != nil {
				return "", err
			}
		}
		name := crypt.Identity
		if pd, ok := parms.(Dict); ok {
			if n, ok := pd["Name"].(Name); ok {
				name = string(n)
			}
		}
		if !h.HasFilter(name) {
			return "", fmt.Errorf("%w: stream names crypt filter /%s, which /CF does not define", ErrUnsupportedEncryption, name)
		}
		return name, nil
	}
	switch d["Type"] {
	case Name("EmbeddedFile"):
		return h.EFF, nil
	case Name("Metadata"):
		if !h.EncryptMetadata() {
			return crypt.Identity, nil
		}
	}
	return h.StmF, nil
}

// decryptStream decrypts the raw bytes of a stream read from the file.
func (r *Reader) decryptStream(st *Stream, raw []byte) ([]byte, error) {
	if r.sec == nil || !st.encrypted {
		return raw, nil
	}
	f, err := r.streamFilter(st.Dict)
	if err != nil {
		return nil, err
	}
	out, err := r.sec.h.Decrypt(f, st.cryptRef.Num, st.cryptRef.Gen, raw)
	if err != nil {
		return nil, fmt.Errorf("stream %v: %w", st.cryptRef, err)
	}
	return out, nil
}

// encryptObject returns a copy of o, object ref of an update, with its
// strings and stream data encrypted as the document's are; o is left as
// it was. A signature's /Contents stays plain.
func (r *Reader) encryptObject(ref Ref, o Object, depth int) (Object, error) {
	if depth > 100 {
		return nil, fmt.Errorf("%w: objects nested deeper than 100", ErrSyntax)
	}
	if depth == 0 && ref == r.sec.encRef {
		// The /Encrypt dictionary is never encrypted (§7.6.2): an update
		// that rewrites it writes its /O, /U and /Perms as they are.
		return o, nil
	}
	h := r.sec.h
	switch v := o.(type) {
	case String:
		b, err := h.Encrypt(h.StrF, ref.Num, ref.Gen, v.Bytes)
		if err != nil {
			return nil, err
		}
		return String{Bytes: b, Hex: true}, nil
	case Array:
		out := make(Array, len(v))
		for i, x := range v {
			y, err := r.encryptObject(ref, x, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case Dict:
		sig := isSigDict(v)
		out := make(Dict, len(v))
		for k, x := range v {
			if sig && k == "Contents" {
				out[k] = x
				continue
			}
			y, err := r.encryptObject(ref, x, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	case *Stream:
		d, err := r.encryptObject(ref, v.Dict, depth+1)
		if err != nil {
			return nil, err
		}
		data := v.Data
		if data == nil {
			// A stream kept from the file: its decrypted bytes.
			if data, err = r.RawStream(v); err != nil {
				return nil, err
			}
		}
		f, err := r.streamFilter(v.Dict)
		if err != nil {
			return nil, err
		}
		enc, err := h.Encrypt(f, ref.Num, ref.Gen, data)
		if err != nil {
			return nil, err
		}
		return &Stream{Dict: d.(Dict), Data: enc}, nil
	}
	return o, nil
}
