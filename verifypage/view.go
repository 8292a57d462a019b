package verifypage

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"time"

	"esign/verify"
)

// Tones of a verdict or a signature card. Each has its colour, icon and
// words on the page: colour is never the only sign.
const (
	toneValid         = "valid"
	toneInvalid       = "invalid"
	toneIndeterminate = "indeterminate"
	toneError         = "error"
)

// resultView is everything the result part of the page shows, with the
// fixed words already in the page's language. Strings from the file stay
// plain strings: the template escapes them.
type resultView struct {
	Verdict     *verdictView
	Signatures  []sigView
	DocWarnings []string
	DocFacts    []fact
	// JSONURL is the report as a data: URL for the download link.
	JSONURL template.URL
	// Registry is the issuer registry's word, nil when the document is
	// not registered or the verifier keeps no registry; Match, on a
	// /d/{id} page, whether the file is that document.
	Registry    *registryView
	Match       *matchView
	Attachments []attView
}

type verdictView struct {
	Tone, Title string
	Details     []string
	Changes     []changeView // what changed after signing, in plain words
	// Seen warns of permitted changes that still alter what a page shows
	// (an annotation under DocMDP P=3): the verdict stands, with a warning.
	Seen   *seenView
	Advice string
}

// seenView is a warning that names permitted changes a reader sees.
type seenView struct {
	Heading, Detail string
	List            []changeView
}

func newSeen(l Lang, list []changeView) *seenView {
	if len(list) == 0 {
		return nil
	}
	tx := texts(l)
	return &seenView{Heading: tx.SeenHeading, Detail: tx.SeenDetail, List: list}
}

// changeView is one change after a signature: what was done and, when the
// verifier knows, what a reader sees change and where.
type changeView struct{ Text, Seen string }

func newChange(l Lang, m verify.Modification) changeView {
	return changeView{Text: modificationText(l, m), Seen: seenText(l, m)}
}

// appendChange appends c unless the same words are already listed.
func appendChange(list []changeView, c changeView) []changeView {
	if c.Text == "" || slices.Contains(list, c) {
		return list
	}
	return append(list, c)
}

// drawsOnPage tells a permitted change that still alters what a page shows.
// DocMDP P=3 allows annotations, and one can cover the signed content (the
// "evil annotation"): such a change must not sit among the quiet additions.
func drawsOnPage(m verify.Modification) bool {
	switch m.Effect {
	case verify.EffectAnnotation, verify.EffectOverlay, verify.EffectContent:
		return true
	}
	return false
}

type sigView struct {
	Title, Field string
	Timestamp    bool // a document timestamp, not a signature
	Tone, Status string
	Reasons      []string
	Name, Org    string
	Time         *timeView
	TimeNote     string
	TimeTrusted  bool
	// Proven is when a later document timestamp proves the signature (or
	// timestamp) existed, when that is not the time shown above.
	Proven                       *timeView
	ProvenNote                   string
	Level, LevelWhat             string
	LongTerm                     bool
	LongTermWhy                  string
	Chain                        []chainLink
	Changes, Allowed             []changeView
	AllowedHeading               string
	Seen                         *seenView
	NotWhole                     bool
	Certification                string
	SigReason, Location, Contact string
	Tech                         []fact
	// The signed revision, which the page's script cuts from the upload.
	RevisionLength   int64
	RevisionSHA256   string
	RevisionName     string
	RevisionHint     string
	Errors, Warnings []string
}

type chainLink struct {
	Subject string
	Note    string // on the last link: trusted anchor or not
}

// fact is one label and value of a technical list.
type fact struct{ Label, Value string }

// timeView shows one instant as a Buddhist-era and a Gregorian date, in
// Thai time (UTC+7 all year, so no time-zone database is needed).
type timeView struct {
	Primary, Secondary string
	ISO                string // for <time datetime>
}

var bangkok = time.FixedZone("UTC+7", 7*60*60)

func formatTime(l Lang, t time.Time) *timeView {
	tx := texts(l)
	lt := t.In(bangkok)
	month := tx.Months[lt.Month()-1]
	iso := t.UTC().Format(time.RFC3339)
	if l == LangThai {
		return &timeView{
			Primary:   fmt.Sprintf("%d %s %d เวลา %02d:%02d น.", lt.Day(), month, lt.Year()+543, lt.Hour(), lt.Minute()),
			Secondary: fmt.Sprintf("ค.ศ. %d %s %d เวลา %02d:%02d:%02d น. (UTC+7) · %s", lt.Day(), month, lt.Year(), lt.Hour(), lt.Minute(), lt.Second(), iso),
			ISO:       iso,
		}
	}
	return &timeView{
		Primary:   fmt.Sprintf("%d %s %d, %02d:%02d (UTC+7)", lt.Day(), month, lt.Year(), lt.Hour(), lt.Minute()),
		Secondary: fmt.Sprintf("Buddhist Era: %d %s %d, %02d:%02d:%02d · %s", lt.Day(), month, lt.Year()+543, lt.Hour(), lt.Minute(), lt.Second(), iso),
		ISO:       iso,
	}
}

// newResultView turns a report into what the page shows.
func newResultView(l Lang, rep *verify.Report) (*resultView, error) {
	tx := texts(l)
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	v := &resultView{
		Verdict:     verdict(l, rep),
		DocWarnings: rep.Document.Warnings,
		// Base64 keeps every byte of the file's strings out of the URL's
		// syntax; a download link is a navigation, which default-src does
		// not govern.
		JSONURL:     template.URL("data:application/json;charset=utf-8;base64," + base64.StdEncoding.EncodeToString(js)),
		Registry:    newRegistryView(l, rep.Registry),
		Attachments: newAttachments(l, rep),
	}
	if v.Registry != nil && v.Registry.Tone == toneInvalid {
		// A revoked document: the issuer's word heads the page, whatever
		// the signatures say, so nobody reads it as valid.
		// What the signatures' check found still shows below it.
		sigs := v.Verdict
		v.Verdict = &verdictView{Tone: toneInvalid, Title: v.Registry.Title, Details: v.Registry.Details,
			Changes: sigs.Changes, Seen: sigs.Seen, Advice: texts(l).InvalidAdvice}
		if sigs.Tone != toneValid {
			v.Verdict.Details = append(append([]string{}, v.Verdict.Details...), sigs.Title)
		}
	}
	v.DocFacts = []fact{
		{tx.Indication, indicationString(rep.Document.Indication, rep.Document.SubIndication)},
		{tx.RevisionsLabel, fmt.Sprint(rep.Document.Revisions)},
	}
	if rep.Document.TrailingBytes > 0 {
		v.DocFacts = append(v.DocFacts, fact{tx.TrailingLabel, fmt.Sprint(rep.Document.TrailingBytes)})
	}
	if rep.Document.Encrypted {
		v.DocFacts = append(v.DocFacts, fact{tx.EncryptionLabel, or(rep.Document.Encryption, "-")})
	}
	sigNo := 0
	for i := range rep.Signatures {
		s := &rep.Signatures[i]
		if s.Kind != verify.KindDocumentTimestamp {
			sigNo++
		}
		v.Signatures = append(v.Signatures, signatureView(l, s, sigNo))
	}
	return v, nil
}

func indicationString(ind verify.Indication, sub verify.SubIndication) string {
	if sub == "" {
		return string(ind)
	}
	return string(ind) + " / " + string(sub)
}

func toneOf(ind verify.Indication) string {
	switch ind {
	case verify.TotalPassed:
		return toneValid
	case verify.TotalFailed:
		return toneInvalid
	}
	return toneIndeterminate
}

// verdict sums the document up in one sentence, naming what failed or
// changed, or why the check could not conclude.
func verdict(l Lang, rep *verify.Report) *verdictView {
	tx := texts(l)
	doc := rep.Document
	if doc.SignatureCount == 0 || len(rep.Signatures) == 0 {
		return &verdictView{Tone: toneIndeterminate, Title: tx.NoSignatureTitle, Details: []string{tx.NoSignatureDetail}}
	}
	var seen []changeView
	for _, s := range rep.Signatures {
		for _, m := range s.AllowedChanges {
			if drawsOnPage(m) {
				seen = appendChange(seen, newChange(l, m))
			}
		}
	}
	switch doc.Indication {
	case verify.TotalPassed:
		if len(seen) > 0 {
			// DocMDP's verdict stands, but "not changed" would be untrue.
			return &verdictView{Tone: toneValid, Title: tx.ValidSeenTitle, Details: []string{tx.ValidSeenDetail}, Seen: newSeen(l, seen)}
		}
		return &verdictView{Tone: toneValid, Title: tx.ValidTitle, Details: []string{tx.ValidDetail}}
	case verify.TotalFailed:
		v := &verdictView{Tone: toneInvalid, Title: tx.InvalidTitle, Advice: tx.InvalidAdvice, Seen: newSeen(l, seen)}
		for _, s := range rep.Signatures {
			if s.Indication == verify.TotalFailed {
				v.Details = appendNew(v.Details, reason(l, s.SubIndication, s.ModifiedAfter))
			}
			for _, m := range s.Modifications {
				v.Changes = appendChange(v.Changes, newChange(l, m))
			}
		}
		if len(v.Details) == 0 {
			v.Details = appendNew(v.Details, reason(l, doc.SubIndication, len(v.Changes) > 0))
		}
		if len(v.Details) == 0 && doc.Summary != "" {
			v.Details = []string{doc.Summary}
		}
		return v
	}
	v := &verdictView{Tone: toneIndeterminate, Title: tx.IndeterminateTitle, Seen: newSeen(l, seen)}
	for _, s := range rep.Signatures {
		if s.Indication == verify.Indeterminate {
			v.Details = appendNew(v.Details, reason(l, s.SubIndication, false))
		}
	}
	if len(v.Details) == 0 {
		v.Details = appendNew(v.Details, reason(l, doc.SubIndication, false))
	}
	if len(v.Details) == 0 && doc.Summary != "" {
		v.Details = []string{doc.Summary}
	}
	return v
}

// appendNew appends s unless it is empty or already there.
func appendNew(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func signatureView(l Lang, s *verify.SignatureResult, n int) sigView {
	tx := texts(l)
	v := sigView{
		Field:         s.Field,
		Timestamp:     s.Kind == verify.KindDocumentTimestamp,
		Tone:          toneOf(s.Indication),
		Certification: certificationText(l, s.Certification),
		SigReason:     s.Reason,
		Location:      s.Location,
		Contact:       s.ContactInfo,
		Errors:        s.Errors,
		Warnings:      s.Warnings,
	}
	if v.Timestamp {
		v.Title = tx.DocTimestamp
	} else {
		v.Title = fmt.Sprintf(tx.SignatureN, n)
	}
	switch v.Tone {
	case toneValid:
		v.Status = tx.StatusPassed
	case toneInvalid:
		v.Status = tx.StatusFailed
	default:
		v.Status = tx.StatusIndet
	}
	if v.Tone != toneValid {
		v.Reasons = appendNew(nil, reason(l, s.SubIndication, s.ModifiedAfter))
	}
	if s.Signer != nil {
		v.Name, v.Org = s.Signer.CommonName, s.Signer.Organization
		if v.Name == "" {
			v.Name = s.Signer.Subject
		}
	}
	if v.Name == "" && s.Name != "" {
		v.Name = s.Name
	}

	switch {
	case s.TimestampTime != nil:
		v.Time = formatTime(l, *s.TimestampTime)
		v.TimeTrusted = true
		tsa := s.TSA
		if tsa == "" && v.Timestamp {
			tsa = v.Name
		}
		if tsa == "" {
			tsa = "?"
		}
		v.TimeNote = fmt.Sprintf(tx.TimeFromTSA, tsa)
	case s.SigningTime != nil:
		v.Time = formatTime(l, *s.SigningTime)
		v.TimeNote = tx.TimeClaimed
	}

	if s.ProvenTime != nil && s.ProvenBy == verify.ProvenByDocumentTimestamp {
		v.Proven = formatTime(l, *s.ProvenTime)
		v.ProvenNote = fmt.Sprintf(tx.ProvenByDocTS, s.ProvenByField)
	}

	if !v.Timestamp {
		v.Level = s.Level
		var why string
		v.LevelWhat, v.LongTerm, why = levelText(l, s.Level)
		v.LongTermWhy = why
	}

	for i, subj := range s.Chain {
		link := chainLink{Subject: subj}
		if i == len(s.Chain)-1 && len(s.Chain) > 0 {
			if s.SubIndication == verify.NoCertificateChainFound {
				link.Note = tx.ChainNoAnchor
			} else {
				link.Note = tx.ChainAnchor
			}
		}
		v.Chain = append(v.Chain, link)
	}

	for _, m := range s.Modifications {
		v.Changes = appendChange(v.Changes, newChange(l, m))
	}
	v.AllowedHeading = tx.AllowedChanges
	var seen []changeView
	for _, m := range s.AllowedChanges {
		c := newChange(l, m)
		if drawsOnPage(m) {
			seen = appendChange(seen, c)
			continue
		}
		v.Allowed = appendChange(v.Allowed, c)
		if m.Effect != "" {
			// A filled-in field shows: the heading must not say that
			// nothing did.
			v.AllowedHeading = tx.AllowedSeen
		}
	}
	v.Seen = newSeen(l, seen)

	if s.RevisionLength > 0 && s.RevisionSHA256 != "" {
		v.RevisionLength, v.RevisionSHA256 = s.RevisionLength, s.RevisionSHA256
		v.RevisionName = safeName(fmt.Sprintf("signed-version-%s.pdf", s.Field))
		v.RevisionHint = fmt.Sprintf(regTexts(l).SignedVersionHint, formatSize(s.RevisionLength))
	}
	v.Tech = []fact{{tx.Indication, indicationString(s.Indication, s.SubIndication)}}
	add := func(label, value string) {
		if value != "" {
			v.Tech = append(v.Tech, fact{label, value})
		}
	}
	covers := tx.No
	if s.CoversWholeDocument {
		covers = tx.Yes
	}
	add(tx.CoversWhole, covers)
	add(tx.Field, s.Field)
	add(tx.SubFilter, s.SubFilter)
	add(tx.Digest, s.Digest)
	add(tx.Algorithm, s.Algorithm)
	if s.SigningTime != nil && s.TimestampTime != nil {
		add(tx.ClaimedTime, s.SigningTime.UTC().Format(time.RFC3339))
	}
	rev := s.Revocation.Status
	if s.Revocation.Source != "" {
		rev += " (" + s.Revocation.Source + ")"
	}
	if s.Revocation.RevokedAt != nil {
		rev += " " + s.Revocation.RevokedAt.UTC().Format(time.RFC3339)
	}
	add(tx.RevocationLabel, rev)
	if s.Signer != nil {
		add(tx.Subject, s.Signer.Subject)
		add(tx.SubjectSerial, s.Signer.SubjectSerialNumber)
		add(tx.Serial, s.Signer.SerialNumber)
		add(tx.Issuer, s.Signer.Issuer)
	}
	return v
}

// errorMessage gives the words for a failed upload.
func errorMessage(l Lang, code string) string {
	tx := texts(l)
	if m, ok := tx.Errs[code]; ok {
		return m
	}
	return tx.Errs[""]
}

// formatSize writes a byte count the way people read file sizes.
func formatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// or is s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
