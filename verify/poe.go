package verify

import (
	"fmt"
	"time"
)

// Proof of existence (EN 319 102-1 §5.6.2.4, past signature validation):
// validation happens at the validation time, and a certificate that has
// since expired, or been revoked, still counts when a valid timestamp
// proves that what rests on it existed before. A document timestamp
// proves that everything it covers existed at its genTime: the
// signatures and timestamps before it, and the DSS as it stood then. Its
// own token is proven in turn by a later document timestamp, and the
// newest one only by being valid now: that is why an archive is renewed
// before its newest TSA certificate expires.

// proveTimestamps judges the document timestamps newest first: each
// needs its TSA's path valid, and not revoked, at the earliest time a
// later valid document timestamp proves it existed, or at the validation
// time. Those that pass give proof of existence to what they cover.
func (v *verifier) proveTimestamps() {
	for i := len(v.sigs) - 1; i >= 0; i-- {
		s := v.sigs[i]
		if s.skipped || !s.parsed || s.res.Kind != KindDocumentTimestamp || s.docTR == nil {
			continue
		}
		tr := s.docTR
		s.cover = v.coveringTimestamp(s.end)
		if c := s.cover; c != nil {
			s.setProven(*c.tsTime, ProvenByDocumentTimestamp, c.res.Field)
		}
		if tr.failed || !tr.trusted || s.tsTime == nil {
			continue
		}
		if sub, msg := v.tokenInTime(tr, s.cover); sub != "" {
			s.indeterminate(sub, "%s", msg)
			continue
		}
		s.givesPOE = true
		poe := &ProofOfExistence{Time: s.tsTime.UTC(), Revisions: s.res.Revision, Fields: []string{}}
		for _, o := range v.sigs {
			if o != s && o.parsed && o.end < s.end {
				poe.Fields = append(poe.Fields, o.res.Field)
			}
		}
		s.res.ProofOfExistence = poe
	}
}

// coveringTimestamp returns the document timestamp with the earliest time
// among those that give proof of existence and cover the revision ending
// at end, or nil.
func (v *verifier) coveringTimestamp(end int64) *sigCtx {
	var best *sigCtx
	for _, o := range v.sigs {
		if o.givesPOE && o.end > end && (best == nil || o.tsTime.Before(*best.tsTime)) {
			best = o
		}
	}
	return best
}

// tokenInTime checks a token whose TSA path was valid at genTime against
// the time the token is proven to have existed: the time of cover, or,
// with no cover, the validation time. Every certificate of the path must
// still have been valid then, and the TSA's not yet revoked: a TSA key
// compromised later could have made tokens with any genTime. It returns
// the sub-indication and the reason when the token proves nothing.
func (v *verifier) tokenInTime(tr *tokenResult, cover *sigCtx) (SubIndication, string) {
	at, proof := v.now, "the validation time"
	if cover != nil {
		at = *cover.tsTime
		proof = fmt.Sprintf("document timestamp %q (%s), the earliest proof that the token existed", cover.res.Field, fmtTime(at))
	}
	for _, c := range tr.chain {
		if at.After(c.NotAfter) {
			what := "the TSA's certificate"
			if c != tr.chain[0] {
				what = "CA certificate"
			}
			if cover == nil {
				return OutOfBoundsNoPOE, fmt.Sprintf("%s %q expired at %s and no later document timestamp proves the token existed before", what, c.Subject.CommonName, fmtTime(c.NotAfter))
			}
			return OutOfBoundsNoPOE, fmt.Sprintf("%s %q expired at %s, before %s", what, c.Subject.CommonName, fmtTime(c.NotAfter), proof)
		}
	}
	if r := tr.revokedLater; r != nil && !at.Before(*r) {
		return RevokedNoPOE, fmt.Sprintf("the TSA's certificate %q was revoked at %s, after the token's time but not after %s", tr.tok.Certificate.Subject.CommonName, fmtTime(*r), proof)
	}
	return "", ""
}

// setProven records an earlier proof of existence.
func (s *sigCtx) setProven(t time.Time, by, field string) {
	if s.poe != nil && !t.Before(*s.poe) {
		return
	}
	t = t.UTC()
	s.poe = &t
	s.res.ProvenTime = &t
	s.res.ProvenBy = by
	s.res.ProvenByField = field
}
