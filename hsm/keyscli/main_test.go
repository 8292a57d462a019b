package keyscli_test

import (
	"os"
	"testing"

	"esign/hsm/hsmtest"
)

func TestMain(m *testing.M) { os.Exit(hsmtest.Main(m)) }
