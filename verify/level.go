package verify

// coveredByDocTimestamp reports whether a document timestamp after s
// gives proof of existence (valid, its TSA trusted and in time): only such
// a one does what a signature timestamp does (EN 319 142-1 §5.3). One that
// failed, or whose TSA is not trusted, proves nothing and raises no level.
func (v *verifier) coveredByDocTimestamp(s *sigCtx) bool {
	return v.coveringTimestamp(s.end) != nil
}

// detectLevel sets the PAdES baseline level (EN 319 142-1 §6) from what
// the signature and the document hold, whether or not it validated:
// B-B a CAdES signature; B-T with a signature timestamp or a document
// timestamp after it that gives proof of existence; B-LT with, in
// the DSS, revocation data for every certificate of the signer's path but
// the trust anchor; B-LTA with a document timestamp after it.
func (v *verifier) detectLevel(s *sigCtx) {
	switch s.subFilter {
	case subFilterPKCS7, subFilterPKCS7SHA1:
		s.res.Level = LevelNotETSI
		return
	case subFilterCAdES:
	default:
		return
	}
	if s.cms == nil {
		return
	}
	s.res.Level = LevelB
	// A document timestamp over the signature does what a signature
	// timestamp does (EN 319 142-1 §5.3): a B-B file extended is B-T.
	if !s.hasTimestamp && !v.coveredByDocTimestamp(s) {
		return
	}
	s.res.Level = LevelT
	chain := s.chain
	if len(chain) < 2 {
		return
	}
	for i := 0; i+1 < len(chain); i++ {
		if hasNoCheck(chain[i]) {
			continue
		}
		if !v.ev.hasDSSData(chain[i], chain[i+1]) {
			return
		}
	}
	s.res.Level = LevelLT
	for _, o := range v.sigs {
		if o.parsed && o.res.Kind == KindDocumentTimestamp && o.end > s.end {
			s.res.Level = LevelLTA
			return
		}
	}
}
