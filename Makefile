# esign: `make run` starts the development service, `make test` runs every test.
GO ?= go
PKGS := ./...

.PHONY: run test build bench fuzz lint deps deps-test clean certs-dev

deps:
	@scripts/deps.sh

deps-test:
	@scripts/deps.sh test

build: deps
	$(GO) build -o bin/ ./cmd/...

# Development mode: SoftHSM2 token, development PKI, built-in TSA and
# OCSP/CRL services, all under $$ESIGN_DATA_DIR (default .esign-dev/).
run: build
	./bin/esignd -dev

test: deps-test
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 60m $(PKGS)

# Benchmarks of the issue targets; see README "Performance".
bench: deps-test
	$(GO) test -run '^$$' -bench . -benchtime 3s ./signer/ ./hsm/ ./verify/
	$(GO) test -run '^$$' -bench SignEndpoint -benchtime 8000x ./cmd/esignd/

fuzz: deps-test
	$(GO) test -run '^$$' -fuzz FuzzReader -fuzztime 60s ./pdf/
	$(GO) test -run '^$$' -fuzz FuzzLinkScanner -fuzztime 60s ./pdf/
	$(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime 60s ./verify/
	$(GO) test -run '^$$' -fuzz FuzzSignedUpdate -fuzztime 60s ./verify/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./cades/
	$(GO) test -run '^$$' -fuzz FuzzParseEntry -fuzztime 60s ./outbound/

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet $(PKGS)

clean:
	rm -rf bin

# Copy the public certificates of the local development PKI into certs-dev/.
certs-dev:
	cp $${ESIGN_DATA_DIR:-.esign-dev}/pki/*.pem certs-dev/
