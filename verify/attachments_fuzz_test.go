package verify

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"esign/pdf"
	"esign/pdf/pdftest"
)

// embeddedSeeds are small files whose embedded-file structures the walk
// must survive: a plain attachment, one compressed, a name tree that
// loops, one nested past the depth bound, and an /AF-only file.
func embeddedSeeds() [][]byte {
	xml := []byte("<transcript/>")
	z := pdftest.Deflate(xml)
	plain := pdftest.Build(
		"<</Type/Catalog/Pages 2 0 R/Names<</EmbeddedFiles 3 0 R>>/AF[4 0 R]>>",
		"<</Type/Pages/Kids[]/Count 0>>",
		"<</Names[(a.xml) 4 0 R]>>",
		"<</Type/Filespec/F(a.xml)/UF(a.xml)/AFRelationship/Data/EF<</F 5 0 R>>>>",
		fmt.Sprintf("<</Type/EmbeddedFile/Subtype/application#2Fxml/Length %d>>stream\n%s\nendstream", len(xml), xml),
	)
	flate := pdftest.Build(
		"<</Type/Catalog/Pages 2 0 R/Names<</EmbeddedFiles<</Kids[3 0 R]>>>>>>",
		"<</Type/Pages/Kids[]/Count 0>>",
		"<</Names[(b.xml)<</EF<</F 4 0 R>>>>]>>",
		fmt.Sprintf("<</Length %d/Filter/FlateDecode>>stream\n%s\nendstream", len(z), z),
	)
	loop := pdftest.Build(
		"<</Type/Catalog/Pages 2 0 R/Names<</EmbeddedFiles 3 0 R>>>>",
		"<</Type/Pages/Kids[]/Count 0>>",
		"<</Kids[4 0 R 3 0 R]>>",
		"<</Kids[3 0 R 4 0 R]/Names[(x) 5 0 R (y) 5 0 R]>>",
		"<</EF<</F 6 0 R>>/AF[5 0 R]>>",
		"<</Length 1>>stream\nx\nendstream",
	)
	objs := []string{"<</Type/Catalog/Pages 2 0 R/Names<</EmbeddedFiles 3 0 R>>>>", "<</Type/Pages/Kids[]/Count 0>>"}
	for i := 3; i < 3+maxAttachmentDepth+5; i++ {
		objs = append(objs, fmt.Sprintf("<</Kids[%d 0 R]>>", i+1))
	}
	objs = append(objs, "<<>>")
	deep := pdftest.Build(objs...)
	afOnly := pdftest.Build(
		"<</Type/Catalog/Pages 2 0 R/AF[3 0 R 3 0 R]>>",
		"<</Type/Pages/Kids[]/Count 0>>",
		"<</F(c.txt)/EF<</UF 4 0 R>>/AFRelationship/Source>>",
		"<</Length 3/Subtype/text#2Fplain>>stream\nabc\nendstream",
	)
	return [][]byte{plain, flate, loop, deep, afOnly}
}

// FuzzEmbeddedFiles feeds a file to the embedded-file walk and the
// decoding of what it finds, under a small budget: it must end, list at
// most maxAttachments files, visit at most its node budget and decode no
// more than the reader allows.
func FuzzEmbeddedFiles(f *testing.F) {
	for _, s := range embeddedSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const decodeCap = 1 << 20
		r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), &pdf.ReaderOptions{
			MaxDecodedBytes: decodeCap, MaxReadBytes: 16 << 20, Context: context.Background()})
		if err != nil {
			return
		}
		budget := 2000
		files, _ := listEmbedded(r, &budget)
		if len(files) > maxAttachments {
			t.Fatalf("%d files listed, over %d", len(files), maxAttachments)
		}
		if budget < 0 {
			t.Fatalf("budget overspent: %d", budget)
		}
		var total int
		for _, e := range files {
			_ = e.name(r)
			if b, err := r.StreamData(e.stream); err == nil {
				total += len(b)
			}
		}
		if total > decodeCap {
			t.Fatalf("decoded %d bytes, over the cap of %d", total, decodeCap)
		}
	})
}

// TestEmbeddedSeeds: the walk finds what the seeds hold, and stops on
// the hostile ones.
func TestEmbeddedSeeds(t *testing.T) {
	seeds := embeddedSeeds()
	for i, want := range []struct {
		files   int
		partial bool
		name    string
	}{{1, false, "a.xml"}, {1, false, "b.xml"}, {1, false, "x"}, {0, true, ""}, {1, false, "c.txt"}} {
		r, err := pdf.NewReader(bytes.NewReader(seeds[i]), int64(len(seeds[i])), nil)
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		budget := maxAttachmentNodes
		files, partial := listEmbedded(r, &budget)
		if len(files) != want.files || partial != want.partial {
			t.Errorf("seed %d: %d files, partial %v; want %d, %v", i, len(files), partial, want.files, want.partial)
			continue
		}
		if want.files > 0 && files[0].name(r) != want.name {
			t.Errorf("seed %d: name %q, want %q", i, files[0].name(r), want.name)
		}
	}
}
