package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Temporary files are named tempPrefix + digits + tempSuffix. '~' is not a
// key byte, so no key can name one, and Sweep can tell them from blobs.
const (
	tempPrefix = "~put-"
	tempSuffix = ".tmp"
)

// Dir is a Store of files under a root directory, one subdirectory level
// per key segment: "batch-123/doc.pdf" is root/batch-123/doc.pdf. Several
// processes may share a root, on one machine or over NFS.
//
// A key cannot both hold a blob and be the directory of other keys: Put
// fails with ErrConflict. Directories emptied by Delete are left in place
// (DeletePrefix removes them; a Put of their name does too). Processes killed during Put leave temporary
// files that no key names; Sweep removes them.
type Dir struct {
	// MaxSize caps a blob's length; Put fails with ErrTooLarge beyond it.
	// Default (zero) DefaultMaxSize. Set it before the first Put.
	MaxSize int64

	root string
	// synced holds the directories this process has made durable (made,
	// and their entries synced into their parents), so that only the
	// first Put into a directory pays for the parents' fsync.
	synced sync.Map
}

// OpenDir opens a Dir at root, making it (0700) if missing.
func OpenDir(root string) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("blob directory %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("make blob directory: %w", err)
	}
	// The root's own entry must survive a crash for the blobs under it to.
	if err := syncDir(filepath.Dir(abs)); err != nil {
		return nil, fmt.Errorf("blob directory %s: %w", abs, err)
	}
	return &Dir{root: abs}, nil
}

// Root returns the absolute path of the directory.
func (d *Dir) Root() string { return d.root }

func (d *Dir) path(key string) string { return filepath.Join(d.root, filepath.FromSlash(key)) }

// Put implements Store: it writes a temporary file beside the blob's,
// syncs it, renames it over the key and syncs the directory.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	if err := ValidKey(key); err != nil {
		return Info{}, err
	}
	info, err := d.put(ctx, d.path(key), r)
	if err != nil {
		return Info{}, fmt.Errorf("put blob %q: %w", key, err)
	}
	return info, nil
}

func (d *Dir) put(ctx context.Context, path string, r io.Reader) (Info, error) {
	dir := filepath.Dir(path)
	f, err := d.createTemp(dir)
	if err != nil {
		return Info{}, err
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if !renamed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	info, err := copyBlob(ctx, f, r, maxSize(d.MaxSize))
	if err != nil {
		return Info{}, err
	}
	if err := f.Sync(); err != nil {
		return Info{}, fmt.Errorf("sync temporary file: %w", err)
	}
	if err := f.Close(); err != nil {
		return Info{}, fmt.Errorf("close temporary file: %w", err)
	}
	err = os.Rename(tmp, path)
	if err != nil && (isConflict(err) || errors.Is(err, fs.ErrExist)) {
		// A directory has the blob's name (os.Rename reports EEXIST). If
		// Deletes have emptied it, it holds no keys: remove it and retry.
		// Rmdir never removes a file or a directory with entries.
		if syscall.Rmdir(path) != nil {
			return Info{}, ErrConflict
		}
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return Info{}, fmt.Errorf("rename into place: %w", err)
	}
	renamed = true
	// The blob is complete and visible; this makes the rename durable.
	if err := syncDir(dir); err != nil {
		return Info{}, err
	}
	return info, nil
}

// createTemp makes a temporary file in dir, making dir first. Another
// process's DeletePrefix may remove a directory this one made before, so
// a missing directory is made again, once.
func (d *Dir) createTemp(dir string) (*os.File, error) {
	for retry := 0; ; retry++ {
		if err := d.ensureDir(dir); err != nil {
			return nil, err
		}
		f, err := os.CreateTemp(dir, tempPrefix+"*"+tempSuffix)
		switch {
		case err == nil:
			return f, nil
		case errors.Is(err, fs.ErrNotExist) && retry == 0:
			d.forget(dir)
		case isConflict(err):
			return nil, ErrConflict
		default:
			return nil, fmt.Errorf("create temporary file: %w", err)
		}
	}
}

// ensureDir makes dir, a directory under the root, and syncs each level's
// entry into its parent: a blob renamed into a directory whose own entry
// was lost in a crash would be lost with it. Levels that exist are synced
// too, as their maker may have crashed before syncing them.
func (d *Dir) ensureDir(dir string) error {
	if _, ok := d.synced.Load(dir); ok || dir == d.root {
		return nil
	}
	rel, err := filepath.Rel(d.root, dir)
	if err != nil {
		return err
	}
	parent := d.root
	for _, seg := range strings.Split(rel, string(filepath.Separator)) {
		p := filepath.Join(parent, seg)
		if err := os.Mkdir(p, 0o700); err != nil {
			if isConflict(err) {
				return ErrConflict
			}
			if !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("make directory: %w", err)
			}
			if fi, err := os.Lstat(p); err != nil {
				return fmt.Errorf("make directory: %w", err)
			} else if !fi.IsDir() {
				return ErrConflict
			}
		}
		if err := syncDir(parent); err != nil {
			return err
		}
		parent = p
	}
	d.synced.Store(dir, struct{}{})
	return nil
}

// forget drops dir and the directories under it from the synced set.
func (d *Dir) forget(dir string) {
	d.synced.Range(func(k, _ any) bool {
		if p := k.(string); p == dir || strings.HasPrefix(p, dir+string(filepath.Separator)) {
			d.synced.Delete(k)
		}
		return true
	})
}

// Open implements Store; the Object reads the file.
func (d *Dir) Open(ctx context.Context, key string) (Object, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	f, err := os.Open(d.path(key))
	if err != nil {
		if isMissing(err) {
			return nil, fmt.Errorf("open blob %q: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("open blob %q: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open blob %q: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		// A directory of other keys.
		f.Close()
		return nil, fmt.Errorf("open blob %q: %w", key, ErrNotFound)
	}
	return &fileObject{f: f, size: fi.Size()}, nil
}

type fileObject struct {
	f    *os.File
	size int64
}

func (o *fileObject) ReadAt(p []byte, off int64) (int, error) { return o.f.ReadAt(p, off) }
func (o *fileObject) Close() error                            { return o.f.Close() }
func (o *fileObject) Size() int64                             { return o.size }

// Delete implements Store. The removal is not synced: a crash right after
// may bring the blob back, which a repeated Delete settles.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	p := d.path(key)
	fi, err := os.Lstat(p)
	if err == nil && fi.IsDir() {
		return nil // a directory of other keys, not a blob
	}
	if err == nil {
		err = os.Remove(p)
	}
	if err != nil && !isMissing(err) {
		return fmt.Errorf("delete blob %q: %w", key, err)
	}
	return nil
}

// DeletePrefix implements Store by removing the prefix's directory tree.
// A Put under the prefix at the same time may make it fail, or survive it.
func (d *Dir) DeletePrefix(ctx context.Context, prefix string) error {
	dir, err := validPrefix(prefix)
	if err != nil {
		return err
	}
	p := d.path(dir)
	d.forget(p)
	fi, err := os.Lstat(p)
	if err != nil {
		if isMissing(err) {
			return nil
		}
		return fmt.Errorf("delete blobs %q: %w", prefix, err)
	}
	if !fi.IsDir() {
		return nil // the blob named dir is not under dir + "/"
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("delete blobs %q: %w", prefix, err)
	}
	return nil
}

// Sweep removes the temporary files of Puts that a crash interrupted,
// those last written more than olderThan ago, and returns how many it
// removed. olderThan must exceed the longest pause a Put's reader may take
// between two reads (an hour is generous), or Sweep may fail a live Put
// (never leaving part of a blob visible). It walks the whole tree.
func (d *Dir) Sweep(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if isMissing(err) {
				return nil // removed by DeletePrefix while we walked
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, tempPrefix) || !strings.HasSuffix(name, tempSuffix) {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			if isMissing(err) {
				return nil
			}
			return err
		}
		if !fi.ModTime().Before(cutoff) {
			return nil
		}
		if err := os.Remove(p); err != nil && !isMissing(err) {
			return err
		}
		removed++
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("sweep %s: %w", d.root, err)
	}
	return removed, nil
}

// syncDir makes the entries of dir (creations, renames) durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// isMissing reports a path that does not exist, including one that runs
// through a file ("a/b" where "a" is a blob).
func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// isConflict reports a blob where a directory should be, or the reverse.
func isConflict(err error) bool {
	return errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR)
}
