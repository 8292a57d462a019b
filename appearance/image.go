package appearance

import (
	"bytes"
	"fmt"
	"image/color"
	"image/png"

	"esign/pdf"
)

// Limits on signature images, which come with signing requests.
const (
	// MaxImageBytes bounds the PNG file.
	MaxImageBytes = 4 << 20
	// MaxImagePixels bounds width × height, and so the memory decoding
	// takes (four bytes a pixel).
	MaxImagePixels = 4 << 20
)

// rasterImage is a decoded image split the way PDF wants it: colour
// samples, and alpha as a separate soft mask.
type rasterImage struct {
	w, h  int
	gray  bool   // one colour component instead of three
	color []byte // rows of gray or RGB samples
	alpha []byte // rows of alpha samples; nil when the image is opaque
}

// decodePNG reads a PNG and un-premultiplies it into colour and alpha.
func decodePNG(data []byte) (*rasterImage, error) {
	if len(data) > MaxImageBytes {
		return nil, fmt.Errorf("%w: signature image of %d bytes, more than %d", ErrOptions, len(data), MaxImageBytes)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: signature image: %w", ErrOptions, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return nil, fmt.Errorf("%w: signature image of %d×%d pixels (at most %d pixels)", ErrOptions, cfg.Width, cfg.Height, MaxImagePixels)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: signature image: %w", ErrOptions, err)
	}
	b := img.Bounds()
	out := &rasterImage{w: b.Dx(), h: b.Dy()}
	rgb := make([]byte, 0, 3*out.w*out.h)
	alpha := make([]byte, 0, out.w*out.h)
	opaque, gray := true, true
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			rgb = append(rgb, c.R, c.G, c.B)
			alpha = append(alpha, c.A)
			opaque = opaque && c.A == 0xff
			gray = gray && c.R == c.G && c.G == c.B
		}
	}
	if gray {
		g := make([]byte, out.w*out.h)
		for i := range g {
			g[i] = rgb[3*i]
		}
		out.gray, out.color = true, g
	} else {
		out.color = rgb
	}
	if !opaque {
		out.alpha = alpha
	}
	return out, nil
}

// embed writes the image XObject, with its alpha as /SMask (PDF 1.4;
// allowed by PDF/A-2 and PDF/A-3, not by PDF/A-1).
func (im *rasterImage) embed(u *pdf.Update) (pdf.Ref, error) {
	comps, cs := 3, pdf.Name("DeviceRGB")
	if im.gray {
		comps, cs = 1, pdf.Name("DeviceGray")
	}
	d := imageDict(im.w, im.h, cs)
	if im.alpha != nil {
		mask, err := imageStream(imageDict(im.w, im.h, "DeviceGray"), im.alpha, im.w, 1)
		if err != nil {
			return pdf.Ref{}, err
		}
		d["SMask"] = u.Add(mask)
	}
	st, err := imageStream(d, im.color, im.w, comps)
	if err != nil {
		return pdf.Ref{}, err
	}
	return u.Add(st), nil
}

func imageDict(w, h int, cs pdf.Name) pdf.Dict {
	// No /Interpolate: PDF/A forbids it being true.
	return pdf.Dict{
		"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Image"),
		"Width": pdf.Integer(w), "Height": pdf.Integer(h),
		"ColorSpace": cs, "BitsPerComponent": pdf.Integer(8),
	}
}

// imageStream compresses samples with the PNG "Up" predictor on every
// row, which suits scanned ink: long runs that repeat row to row.
func imageStream(d pdf.Dict, samples []byte, w, comps int) (*pdf.Stream, error) {
	row := w * comps
	pred := make([]byte, 0, len(samples)+len(samples)/row)
	for y := 0; y*row < len(samples); y++ {
		pred = append(pred, 2) // PNG filter type Up
		cur := samples[y*row : (y+1)*row]
		for x, c := range cur {
			if y > 0 {
				c -= samples[(y-1)*row+x]
			}
			pred = append(pred, c)
		}
	}
	d["DecodeParms"] = pdf.Dict{
		"Predictor": pdf.Integer(15), "Colors": pdf.Integer(comps),
		"BitsPerComponent": pdf.Integer(8), "Columns": pdf.Integer(w),
	}
	return pdf.FlateStream(d, pred)
}
