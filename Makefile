# esign: `make run` starts the development service, `make test` runs every test.
GO ?= go
PKGS := ./...

.PHONY: run test build bench fuzz fuzz-long fuzz-run lint deps deps-test clean certs-dev

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

# Benchmarks of the issue targets; see README "Performance". The batch
# benchmarks sign BATCH_BENCH_N documents per batch: 2,000 here, about a
# minute and a half; the issue's figures are at 10,000
# (make bench BATCH_BENCH_N=10000, about five minutes for them).
BATCH_BENCH_N ?= 2000
bench: deps-test
	$(GO) test -run '^$$' -bench . -benchtime 3s ./signer/ ./hsm/ ./verify/ ./csc/
	$(GO) test -run '^$$' -bench SignEndpoint -benchtime 8000x ./cmd/esignd/
	BATCH_BENCH_N=$(BATCH_BENCH_N) $(GO) test -run '^$$' -bench Batch -benchtime 1x -timeout 60m ./cmd/esignd/

# Fuzz targets, package:Target, for every parser of untrusted bytes; see
# README "Fuzzing". `make fuzz` gives each FUZZTIME_SHORT, `make fuzz-long`
# FUZZTIME (FUZZTIME=8h make fuzz-long), one after another. A crasher stops
# the run and is written under the package's testdata/fuzz/<Target>/.
FUZZ_TARGETS := pdf:FuzzReader pdf:FuzzLinkScanner \
	cades:FuzzParse cades:FuzzBERToDER \
	tsa:FuzzParseToken tsa:FuzzServerRespond \
	verify:FuzzEvidenceOCSP verify:FuzzEvidenceCRL verify:FuzzVerify verify:FuzzSignedUpdate \
	revocation:FuzzRespond revocation:FuzzParseCertificates \
	api:FuzzReadForm outbound:FuzzParseEntry \
	store:FuzzParseChain store:FuzzParsePINHash hsm:FuzzParseURI activation:FuzzTOTPVerify \
	audit:FuzzMetadataValidate appearance:FuzzSubset verifypage:FuzzRenderReport \
	signopts:FuzzParse batchapi:FuzzParseSpec \
	blob:FuzzValidKey csc:FuzzParseAuthorize csc:FuzzParseSignHash csc:FuzzParseOthers
# Extension and renewal read the signatures of any uploaded file.
FUZZ_TARGETS += signer:FuzzSignatures
# Transcripts: the verifier's embedded-file walk, the signer's reading of
# an input's name tree and XMP. Encrypted files: the security handler and
# the reader over encrypted objects.
FUZZ_TARGETS += verify:FuzzEmbeddedFiles signer:FuzzNameTree signer:FuzzPDFAID \
	pdf:FuzzEncrypted pdf/crypt:FuzzOpen
FUZZTIME_SHORT ?= 20s
FUZZTIME ?= 30m
FUZZPARALLEL ?= 1

fuzz: deps-test
	@$(MAKE) --no-print-directory fuzz-run T=$(FUZZTIME_SHORT)

fuzz-long: deps-test
	@$(MAKE) --no-print-directory fuzz-run T=$(FUZZTIME)

fuzz-run:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "== $$name ($$pkg) for $(T)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(T) -parallel $(FUZZPARALLEL) ./$$pkg/; \
	done

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet $(PKGS)

clean:
	rm -rf bin

# Copy the public certificates of the local development PKI into certs-dev/.
certs-dev:
	cp $${ESIGN_DATA_DIR:-.esign-dev}/pki/*.pem certs-dev/
