package main

import (
	"context"
	"io"

	"esign/hsm/keyscli"
)

func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	return keyscli.Run(ctx, args, stdout, stderr, getenv)
}
