package batchcli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Doc is one local PDF of a batch.
type Doc struct {
	// Ref names the document in the batch: the file name without ".pdf".
	Ref string
	// Path is the file as found on the command line or in a directory.
	Path string
	// SHA256 is the lower-case hex digest of the file, once hashed.
	SHA256 string
}

// refPattern is the server's rule for document refs.
var refPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// ValidRef reports whether ref may name a document. "." and ".." match the
// server's pattern but would be cleaned out of a URL path on the way, so
// they are refused here.
func ValidRef(ref string) bool {
	return refPattern.MatchString(ref) && ref != "." && ref != ".."
}

// Collect gathers the PDFs named by args: files as given, and the *.pdf
// files directly inside directories. It fails, before anything is sent,
// on a ref the server would refuse and on two files with the same ref.
// The same file named twice counts once. The result is sorted by ref.
func Collect(args []string) ([]Doc, error) {
	var docs []Doc
	byRef := map[string]int{}
	add := func(path string) error {
		base := filepath.Base(path)
		ext := filepath.Ext(base)
		if !strings.EqualFold(ext, ".pdf") {
			return fmt.Errorf("%s: not a .pdf file", path)
		}
		ref := strings.TrimSuffix(base, ext)
		if !ValidRef(ref) {
			return fmt.Errorf("%s: the ref %q is not 1 to 128 of A-Z a-z 0-9 . _ - (rename the file)", path, ref)
		}
		if i, ok := byRef[ref]; ok {
			if same, err := sameFile(docs[i].Path, path); err != nil || !same {
				return fmt.Errorf("%s and %s have the same ref %q: a batch holds one document per ref", docs[i].Path, path, ref)
			}
			return nil
		}
		byRef[ref] = len(docs)
		docs = append(docs, Doc{Ref: ref, Path: path})
		return nil
	}
	for _, arg := range args {
		fi, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			if !fi.Mode().IsRegular() {
				return nil, fmt.Errorf("%s: not a regular file", arg)
			}
			if err := add(arg); err != nil {
				return nil, err
			}
			continue
		}
		entries, err := os.ReadDir(arg)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, e := range entries {
			if !strings.EqualFold(filepath.Ext(e.Name()), ".pdf") {
				continue
			}
			path := filepath.Join(arg, e.Name())
			// Stat, not the entry's type: a symbolic link to a PDF counts.
			if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			if err := add(path); err != nil {
				return nil, err
			}
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: no .pdf files in the directory", arg)
		}
	}
	slices.SortFunc(docs, func(a, b Doc) int { return strings.Compare(a.Ref, b.Ref) })
	return docs, nil
}

func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// HashDocs fills in each document's SHA256.
func HashDocs(ctx context.Context, docs []Doc) error {
	for i := range docs {
		if err := ctx.Err(); err != nil {
			return err
		}
		sum, err := hashFile(docs[i].Path)
		if err != nil {
			return err
		}
		docs[i].SHA256 = sum
	}
	return nil
}

// hashFile returns the hex SHA-256 of the file at path.
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// KeyInput is what identifies a batch this command creates.
type KeyInput struct {
	// Server is the service's base URL.
	Server string
	// Signer and Level are the credential and PAdES level.
	Signer, Level string
	// Options are the other create fields, by their API names. The
	// activation data must not be among them: it is a secret, and a TOTP
	// code changes every 30 seconds.
	Options map[string]string
	// Docs are the documents, hashed.
	Docs []Doc
}

// IdempotencyKey derives the batch's idempotency key: a SHA-256 over a
// canonical JSON of the server, signer, level, options and the sorted
// (ref, SHA-256) pairs. The same arguments over the same files give the
// same key, so a second run finds the first run's batch; another set of
// documents (or other bytes under a ref) gives another batch. File paths,
// -out and -concurrency are left out: they do not change what is signed.
// The API key is left out too: the server keeps keys per client, and a
// rotated key still belongs to the same client.
func IdempotencyKey(in KeyInput) (string, error) {
	docs := make([][2]string, 0, len(in.Docs))
	for _, d := range in.Docs {
		if d.SHA256 == "" {
			return "", errors.New("idempotency key: document " + d.Ref + " is not hashed")
		}
		docs = append(docs, [2]string{d.Ref, d.SHA256})
	}
	slices.SortFunc(docs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	opts := map[string]string{}
	for k, v := range in.Options {
		if k == "activation" {
			continue
		}
		opts[k] = v
	}
	// encoding/json writes map keys sorted, so the encoding is canonical.
	b, err := json.Marshal(struct {
		V       int               `json:"v"`
		Server  string            `json:"server"`
		Signer  string            `json:"signer"`
		Level   string            `json:"level"`
		Options map[string]string `json:"options"`
		Docs    [][2]string       `json:"docs"`
	}{1, strings.TrimRight(in.Server, "/"), in.Signer, in.Level, opts, docs})
	if err != nil {
		return "", fmt.Errorf("idempotency key: %w", err)
	}
	sum := sha256.Sum256(b)
	return "esigncli-v1-" + hex.EncodeToString(sum[:]), nil
}
