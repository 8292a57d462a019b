package service

import (
	"fmt"
	"strings"

	"esign/api"
	"esign/appearance"
	"esign/signer"
	"esign/store"
)

// thaiAppearances returns the maker of visible signatures: the
// credential's display name and position, the Thai date, and the
// signature image when the request sends one. The font is parsed once
// here, since parsing costs more than drawing.
func thaiAppearances() (func(*store.Credential, api.Placement) (signer.Appearance, error), error) {
	font, err := appearance.Laksaman()
	if err != nil {
		return nil, fmt.Errorf("load the Thai font: %w", err)
	}
	return func(c *store.Credential, p api.Placement) (signer.Appearance, error) {
		page := p.Page - 1
		if page < 0 {
			page = 0 // an existing field gives the place
		}
		return &appearance.Thai{
			Page: page, Rect: p.Rect, Image: p.Image, Font: font,
			// The appearance adds the parentheses itself.
			Name:     strings.TrimSuffix(strings.TrimPrefix(c.DisplayName, "("), ")"),
			Position: c.Position,
		}, nil
	}, nil
}
