package service

import (
	"esign/api"
	"esign/signer"
	"esign/store"
)

// visibleAppearance makes the Thai appearance of a visible signature.
func visibleAppearance(c *store.Credential, p api.Placement) (signer.Appearance, error) {
	return nil, nil
}
