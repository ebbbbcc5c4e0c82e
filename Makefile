# Local caches kept in sync over Redis: see README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help deps install build typecheck lint test test-unit test-integration bench start clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

deps: ## Install what is missing: redis-server, prometheus (apt), FerretDB (Go), npm packages
	@bash scripts/deps.sh

install: deps ## Same as deps

build: deps ## Compile the service to dist/
	npm run build

typecheck: deps ## Type-check everything, tests included
	npm run typecheck

lint: deps ## Lint with Biome
	npm run lint

test: deps ## Type-check, lint, and run every test against real Redis and MongoDB-wire servers
	npm run typecheck
	npm run lint
	npm run build
	npm test

test-unit: deps ## Unit tests only
	npx jest --runInBand service/test/unit

test-integration: deps ## Integration tests only
	npx jest --runInBand service/test/integration

bench: deps ## Benchmarks (never part of make test); today: node-cache's clone cost
	npm run bench:clone

start: build ## Run one replica from the environment (see README: Configuration)
	npm start

clean: ## Remove build output and cached binaries
	rm -rf dist .cache coverage
