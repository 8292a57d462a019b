package signer

import (
	"crypto/sha256"
	"fmt"

	"esign/pdf"
	"esign/revocation"
)

// addDSS merges validation data into the Document Security Store
// (ISO 32000-2 §12.8.4.3; EN 319 142-1 §5.4.2). Data already in the store
// is not written twice, so a document that collects many signatures from
// one PKI does not grow with each.
func addDSS(f *form, ev *revocation.Evidence) error {
	if ev == nil {
		return nil
	}
	var dss pdf.Dict
	var dssRef pdf.Ref
	switch d := f.cat["DSS"].(type) {
	case pdf.Ref:
		cur, err := f.r.Dict(d)
		if err != nil {
			return fmt.Errorf("read DSS: %w", err)
		}
		dssRef = d
		dss = cur.Clone()
	case pdf.Dict:
		dss = d.Clone()
	default:
		dss = pdf.Dict{"Type": pdf.Name("DSS")}
	}
	var certs [][]byte
	for _, c := range ev.Certificates {
		certs = append(certs, c.Raw)
	}
	for _, group := range []struct {
		key  pdf.Name
		data [][]byte
	}{{"Certs", certs}, {"OCSPs", ev.OCSPResponses}, {"CRLs", ev.CRLs}} {
		if len(group.data) == 0 {
			continue
		}
		arr, err := f.r.Array(dss[group.key])
		if err != nil {
			return fmt.Errorf("read DSS /%s: %w", group.key, err)
		}
		have := map[[32]byte]bool{}
		for _, o := range arr {
			st, err := f.r.Resolve(o)
			if err != nil {
				return fmt.Errorf("read DSS /%s entry: %w", group.key, err)
			}
			if s, ok := st.(*pdf.Stream); ok {
				if data, err := f.r.StreamData(s); err == nil {
					have[sha256.Sum256(data)] = true
				}
			}
		}
		out := append(pdf.Array{}, arr...)
		for _, d := range group.data {
			sum := sha256.Sum256(d)
			if have[sum] {
				continue
			}
			have[sum] = true
			out = append(out, f.u.Add(&pdf.Stream{Dict: pdf.Dict{}, Data: d}))
		}
		dss[group.key] = out
	}
	if dssRef != (pdf.Ref{}) {
		f.u.Set(dssRef, dss)
		return nil
	}
	f.cat["DSS"] = f.u.Add(dss)
	f.catDirty = true
	return nil
}
