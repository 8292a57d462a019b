package verify_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"esign/pdf/pdftest"
	"esign/verify"
)

// hostileMemoryBound is what verifying the hostile upload below may add to
// the verifier's resident memory (peak minus idle): 160 MiB, two and a half
// times the 64 MiB decoding budget of one request. At its peak one decode
// of the whole budget holds its output twice, the chunks it was decoded
// into and the joined copy (129 MiB measured, for 1 or 16 signatures). A
// budget per revision reader, as before, cost that once per signature:
// 2.7 GiB measured for 16.
const hostileMemoryBound = 5 * verify.DefaultMaxDecodedBytes / 2

// hostileSignatures is the number of fake signatures, each ending its own
// revision, each revision's xref chaining to the bomb.
const hostileSignatures = 16

// memboundChildEnv names the file the re-executed test binary verifies.
const memboundChildEnv = "ESIGN_MEMBOUND_CHILD"

// TestHostileMemoryBound verifies, with the defaults the public daemon
// uses, a few kilobytes whose revisions all chain to an xref stream that
// decodes to 64 MiB, and bounds the memory that costs. It measures in a
// process of its own (the test binary re-executed), since peak RSS is a
// property of a whole process and other tests would blur it. The same
// file with one signature is measured too: sixteen may cost no more than
// one plus less than one more decode.
func TestHostileMemoryBound(t *testing.T) {
	if path := os.Getenv(memboundChildEnv); path != "" {
		memboundChild(t, path)
		return
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skipf("no /proc/self/status to read peak memory from: %v", err)
	}
	one := measureVerify(t, 1)
	many := measureVerify(t, hostileSignatures)
	if many.grew > hostileMemoryBound {
		t.Errorf("verifying %d bytes raised peak RSS by %d MiB, more than %d MiB", many.size, many.grew>>20, hostileMemoryBound>>20)
	}
	if extra := many.grew - one.grew; extra >= verify.DefaultMaxDecodedBytes {
		t.Errorf("%d signatures cost %d MiB more than one: the bomb is decoded again per revision", hostileSignatures, extra>>20)
	}
}

type memStats struct {
	size int
	grew int64 // peak RSS minus idle RSS, bytes
}

// measureVerify runs the child on the hostile file with n signatures.
func measureVerify(t *testing.T, n int) memStats {
	t.Helper()
	data := hostileRevisions(t, n)
	path := filepath.Join(t.TempDir(), "hostile.pdf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostileMemoryBound$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), memboundChildEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	res := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.Contains(line, "first signature:") || strings.Contains(line, "Verify:") {
			t.Logf("child: %s", line)
		}
		rest, ok := strings.CutPrefix(sc.Text(), "membound:")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			k, v, _ := strings.Cut(kv, "=")
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("child line %q: %v", sc.Text(), err)
			}
			res[k] = x
		}
	}
	for _, k := range []string{"idle_kib", "peak_kib", "wall_ms", "signatures", "revisions"} {
		if _, ok := res[k]; !ok {
			t.Fatalf("child did not report %s:\n%s", k, out)
		}
	}
	grew := (res["peak_kib"] - res["idle_kib"]) << 10
	t.Logf("%d signatures, %d bytes: idle RSS %d MiB, peak RSS %d MiB, grew %d MiB (bound %d MiB); wall time %v",
		n, len(data), res["idle_kib"]>>10, res["peak_kib"]>>10, grew>>20, hostileMemoryBound>>20,
		time.Duration(res["wall_ms"])*time.Millisecond)
	if res["signatures"] != int64(n) || res["revisions"] != int64(n)+1 {
		t.Errorf("the verifier saw %d signatures in %d revisions, want %d in %d: the file does not test what it should",
			res["signatures"], res["revisions"], n, n+1)
	}
	return memStats{size: len(data), grew: grew}
}

// memboundChild runs in the re-executed binary: one Verify with the
// daemon's defaults, then the memory it took, on one line for the parent.
func memboundChild(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	idle := procStatusKiB(t, "VmRSS")
	start := time.Now()
	rep, err := verify.Verify(context.Background(), bytes.NewReader(data), int64(len(data)), verify.Config{})
	wall := time.Since(start)
	peak := procStatusKiB(t, "VmHWM")
	if (rep == nil) == (err == nil) {
		t.Fatalf("Verify returned report %v and error %v", rep != nil, err)
	}
	sigs, revs := 0, 0
	if rep != nil {
		sigs, revs = rep.Document.SignatureCount, rep.Document.Revisions
		for _, s := range rep.Signatures {
			if s.Indication == verify.TotalPassed {
				t.Errorf("fake signature %q passed", s.Field)
			}
		}
		if len(rep.Signatures) > 0 {
			t.Logf("first signature: %s %s %v", rep.Signatures[0].Indication, rep.Signatures[0].SubIndication, rep.Signatures[0].Errors)
		}
	} else {
		t.Logf("Verify: %v", err)
	}
	fmt.Printf("membound: idle_kib=%d peak_kib=%d wall_ms=%d signatures=%d revisions=%d\n", idle, peak, wall.Milliseconds(), sigs, revs)
}

// procStatusKiB reads one "Key: N kB" line of /proc/self/status.
func procStatusKiB(t *testing.T, key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("/proc/self/status %s: %v", key, err)
			}
			return n
		}
	}
	t.Fatalf("/proc/self/status has no %s", key)
	return 0
}

// hostileRevisions builds a file whose first revision's xref is a stream
// decoding to 64 MiB (zeros, deflated twice, so the file stays small),
// followed by n revisions each adding a signature field whose fake
// signature's /ByteRange ends exactly at that revision's %%EOF. Every
// revision's xref table chains by /Prev to the bomb, so reading the file
// as it was at any signature decodes it.
func hostileRevisions(t *testing.T, n int) []byte {
	t.Helper()
	const (
		bombBytes = 64 << 20 // the verifier's default decode budget, all of it
		rowLen    = 7        // /W [1 4 2]
		farFirst  = 1000000  // the zero rows list free objects from here
	)
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := map[int]int{}
	obj := func(num int, body string) {
		offs[num] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", num, body)
	}
	obj(1, "<</Type/Catalog/Pages 2 0 R>>")
	obj(2, "<</Type/Pages/Kids[3 0 R]/Count 1>>")
	obj(3, minimalPage)

	// Object 4: the xref stream. Rows for objects 0-4, then zero rows
	// (free entries) for far object numbers, up to 64 MiB.
	xrefOff := b.Len()
	rows := make([]byte, bombBytes)
	row := func(i int, typ byte, off int, gen uint16) {
		r := rows[i*rowLen:]
		r[0] = typ
		r[1], r[2], r[3], r[4] = byte(off>>24), byte(off>>16), byte(off>>8), byte(off)
		r[5], r[6] = byte(gen>>8), byte(gen)
	}
	row(0, 0, 0, 65535)
	for num := 1; num <= 3; num++ {
		row(num, 1, offs[num], 0)
	}
	row(4, 1, xrefOff, 0)
	far := bombBytes/rowLen - 5
	packed := pdftest.Deflate(pdftest.Deflate(rows))
	size := farFirst + far
	offs[4] = xrefOff
	fmt.Fprintf(&b, "4 0 obj\n<</Type/XRef/W[1 4 2]/Size %d/Index[0 5 %d %d]/Root 1 0 R/Filter[/FlateDecode/FlateDecode]/Length %d>>stream\n",
		size, farFirst, far, len(packed))
	b.Write(packed)
	b.WriteString("\nendstream\nendobj\n")
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", xrefOff)

	prev := xrefOff
	var fields []string
	const contents = "<3082000000000000>"
	for i := 1; i <= n; i++ {
		fieldNum, sigNum := 5+2*(i-1), 6+2*(i-1)
		fields = append(fields, fmt.Sprintf("%d 0 R", fieldNum))
		revOffs := map[int]int{}
		revObj := func(num int, body string) {
			revOffs[num] = b.Len()
			fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", num, body)
		}
		revObj(fieldNum, fmt.Sprintf("<</FT/Sig/T(Sig%d)/V %d 0 R/Type/Annot/Subtype/Widget/Rect[0 0 0 0]/P 3 0 R>>", i, sigNum))
		// /ByteRange is patched in place once the revision's end is known:
		// fixed-width numbers keep every offset.
		sigStart := b.Len()
		revObj(sigNum, "<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/ETSI.CAdES.detached/ByteRange[0 AAAAAAAAAA BBBBBBBBBB CCCCCCCCCC]/Contents"+contents+">>")
		gap := sigStart + bytes.Index(b.Bytes()[sigStart:], []byte(contents))
		revObj(1, "<</Type/Catalog/Pages 2 0 R/AcroForm<</SigFlags 3/Fields["+strings.Join(fields, " ")+"]>>>>")
		x := b.Len()
		fmt.Fprintf(&b, "xref\n0 1\n0000000000 65535 f\r\n1 1\n%010d 00000 n\r\n%d 2\n%010d 00000 n\r\n%010d 00000 n\r\n",
			revOffs[1], fieldNum, revOffs[fieldNum], revOffs[sigNum])
		fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R/Prev %d>>\nstartxref\n%d\n%%%%EOF\n", size, prev, x)
		end := b.Len()
		a, c := gap, gap+len(contents)
		br := b.Bytes()
		for k, v := range map[string]int{"AAAAAAAAAA": a, "BBBBBBBBBB": c, "CCCCCCCCCC": end - c} {
			j := sigStart + bytes.Index(br[sigStart:], []byte(k))
			copy(br[j:], fmt.Sprintf("%10d", v))
		}
		prev = x
	}
	return b.Bytes()
}
