# Local caches kept in sync over Redis: see README.md.
SHELL := /bin/bash
# Node 24 from `make deps` when the machine's node is older (scripts/deps.sh): every recipe uses it.
export PATH := $(CURDIR)/.cache/node/node_modules/node/bin:$(PATH)
.DEFAULT_GOAL := help

.PHONY: help deps install build typecheck lint test test-unit test-integration bench bench-profile start clean \
	up down logs ps kill-replica restart-replica pause-replica resume-replica partition heal restart-redis \
	crash-before-publish sync-mode demo experiment k8s-check failover slo-rules chaos-run soak recovery

COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
BUS_NETWORK := lcs_bus
# Replica N (1..4) of docker-compose.yml, checked before any fault is injected.
replica = $(if $(filter $(N),1 2 3 4),book-$(N),$(error give N=1..4, e.g. make $@ N=2))
container = $$($(COMPOSE) ps -q $(call replica))

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

deps: ## Install what is missing: redis-server (apt), FerretDB, Prometheus 3.5, Toxiproxy, Jaeger (Go, built in parallel, cached by version), npm packages
	@bash scripts/deps.sh

install: deps ## Same as deps

build: deps ## Compile the library (packages/core/dist) and the service (dist/)
	npm run build

typecheck: deps ## Type-check everything, tests included
	npm run typecheck

lint: deps ## Lint with Biome
	npm run lint

test: deps ## Type-check, lint, check the Helm chart, build the library's API reference (no warnings), and run every test against real Redis (standalone, Sentinel, Cluster) and MongoDB-wire servers
	npm run typecheck
	npm run lint
	bash scripts/k8s-check.sh
	npm run build
	npm run docs -w @local-cache-sync/core
	npm test

slo-rules: deps ## Regenerate the freshness SLOs' recording and alerting rules (prometheus/rules/slo-freshness.yml) from prometheus/slo/ with Sloth
	.cache/bin/sloth generate --no-log -i prometheus/slo/freshness.yml -o prometheus/rules/slo-freshness.yml

k8s-check: deps ## The Helm chart offline: helm lint --strict, render every ci/ values file, validate against the Kubernetes schemas
	bash scripts/k8s-check.sh

test-unit: deps ## Unit tests only (the library's and the service's)
	npx jest --runInBand --testPathIgnorePatterns /node_modules/ 'pack\.test' -- service/test/unit packages/core/test

test-integration: deps ## Integration tests only
	npx jest --runInBand service/test/integration

bench: build ## Benchmarks (never part of make test, about 47 min): read path (also behind Toxiproxy), lag against the floor and the peers (side by side, every system warmed alike, and fresh at 2 to 16 receivers), a receiver's profile, where the tail goes at 2 to 16 receivers, throughput, memory -> bench/RESULTS.md
	npm run bench

bench-profile: build ## CPU profile of one replica serving cached reads under load, by package -> reports/profile/
	npx tsx bench/read-path/cpu-profile.ts

start: build ## Run one replica from the environment (see README: Configuration)
	npm start

demo: build ## The stack without Docker: live view and page (q quits); TOUR=1 the guided tour; SCENARIO=cut DURATION=60 one fault; TOPOLOGY=sentinel|cluster
	node --import tsx service/demo/main.ts $(if $(TOUR),--scenario tour,$(if $(SCENARIO),--scenario $(SCENARIO))) $(if $(DURATION),--duration $(DURATION)) $(if $(MODE),--mode $(MODE)) $(if $(TOPOLOGY),--topology $(TOPOLOGY))

experiment: build ## Every sync mode through every fault, same probe seed: the comparison table (about 14 min)
	npx tsx bench/fault-runs/experiment.ts

chaos-run: build ## Every sync mode through the same seeded random faults (DURATION=600 s each, SEED=1), then a history checker: stale reads, stale books left, nines per SLI (28 min measured)
	npx tsx bench/fault-runs/chaos-run.ts

recovery: build ## What a fault costs afterwards (about 8 min): a Redis restart and a 5 s cut, each sync mode and node-redis client-side caching; source reads, read p99, entries dropped -> reports/recovery-*/ and bench/RECOVERY.md
	npx tsx bench/recovery/main.ts

soak: build ## A steady day, no faults (DURATION=1800 s, RATE=300 writes/s, SEED=1): nines of deliveries within 100 ms and 1 s, reads fresh, missed, heap and RSS -> reports/soak-*/ and the README
	npx tsx bench/soak/main.ts

# Fresh secrets for the stack (signing key, chaos token, the replicas' Redis password), kept out of git; docker compose reads .env by itself.
random = process.stdout.write(require('crypto').randomBytes(32).toString('base64url'))
.env:
	@printf 'SYNC_SIGNING_KEYS=k1:%s\nCHAOS_TOKEN=%s\nREDIS_REPLICA_PASSWORD=%s\n' "$$(node -e "$(random)")" "$$(node -e "$(random)")" "$$(node -e "$(random)")" > .env
	@echo "wrote .env: a fresh SYNC_SIGNING_KEYS, CHAOS_TOKEN and REDIS_REPLICA_PASSWORD (not committed)"

# The sync mode lives in .env, so every later recreate (restart-replica, a plain compose up) keeps it.
set-sync-mode = { grep -v '^SYNC_MODE=' .env > .env.next; echo 'SYNC_MODE=$(1)' >> .env.next; mv .env.next .env; }

# The Redis topology lives in .env too: the replicas' Redis variables (exactly one topology set, the
# others empty) and the compose profile that starts its servers.
topology-env = pw=$$(sed -n 's/^REDIS_REPLICA_PASSWORD=//p' .env); case "$(1)" in \
	standalone) printf 'COMPOSE_PROFILES=\nREDIS_URL=redis://book-replica:%s@redis:6379\n' "$$pw";; \
	sentinel) printf 'COMPOSE_PROFILES=sentinel\nREDIS_SENTINELS=redis-sentinel-1:26379,redis-sentinel-2:26379,redis-sentinel-3:26379\nREDIS_SENTINEL_NAME=mymaster\nREDIS_USERNAME=book-replica\nREDIS_PASSWORD=%s\n' "$$pw";; \
	cluster) printf 'COMPOSE_PROFILES=cluster\nREDIS_CLUSTER_NODES=redis-cluster-1:6379,redis-cluster-2:6379,redis-cluster-3:6379\nREDIS_USERNAME=book-replica\nREDIS_PASSWORD=%s\n' "$$pw";; esac
set-topology = { grep -v -E '^(TOPOLOGY|COMPOSE_PROFILES|REDIS_URL|REDIS_SENTINELS|REDIS_SENTINEL_NAME|REDIS_CLUSTER_NODES|REDIS_USERNAME|REDIS_PASSWORD)=' .env > .env.next; { $(call topology-env,$(1)); echo 'TOPOLOGY=$(1)'; } >> .env.next; mv .env.next .env; }

up: .env ## Start the stack (docker compose): Grafana opens on the "Local cache sync" dashboard (SYNC_MODE=stream to start safer; TOPOLOGY=sentinel|cluster)
	@case "$(or $(SYNC_MODE),pubsub)" in pubsub|pubsub-flush|stream) ;; *) echo "give SYNC_MODE=pubsub, pubsub-flush or stream"; exit 2;; esac
	@case "$(or $(TOPOLOGY),standalone)" in standalone|sentinel|cluster) ;; *) echo "give TOPOLOGY=standalone, sentinel or cluster"; exit 2;; esac
	@$(if $(SYNC_MODE),$(call set-sync-mode,$(SYNC_MODE)),grep -q '^SYNC_MODE=' .env || $(call set-sync-mode,pubsub))
	@$(if $(TOPOLOGY),$(call set-topology,$(TOPOLOGY)),grep -q '^TOPOLOGY=' .env || $(call set-topology,standalone))
	$(COMPOSE) build book-1
	$(COMPOSE) up -d
	@echo
	@echo "  Grafana     http://localhost:3000   (dashboard: Local cache sync, anonymous viewer)"
	@echo "  Prometheus  http://localhost:9090   (alerts: http://localhost:9090/alerts)"
	@echo "  Jaeger      http://localhost:16686  (service: book-service)"
	@echo "  Replicas    http://localhost:3001 .. http://localhost:3004"

down: ## Stop the stack and delete its data
	$(COMPOSE) down -v

sync-mode: ## Recreate book-1..4 in MODE=pubsub|pubsub-flush|stream: Sync row shows the mode; staleness stays bounded in the safer modes
	@case "$(MODE)" in pubsub|pubsub-flush|stream) ;; *) echo "give MODE=pubsub, pubsub-flush or stream"; exit 2;; esac
	@$(call set-sync-mode,$(MODE))
	$(COMPOSE) up -d --no-deps book-1 book-2 book-3 book-4

logs: ## Follow the stack's logs (S=book-2 for one service)
	$(COMPOSE) logs -f --tail=100 $(S)

ps: ## Show the stack's containers and their health
	$(COMPOSE) ps

kill-replica: ## SIGKILL replica N: Overview "replicas up" drops, Delivery "receivers missing" rises
	$(COMPOSE) kill -s SIGKILL $(call replica)

restart-replica: ## Start replica N again: it comes back with a cold cache (Overview hit ratio dips)
	$(COMPOSE) up -d $(call replica)

pause-replica: ## Freeze replica N, then fill its buffer until Redis cuts its subscriber (the probe's traffic alone takes minutes); "missed" on resume, then stale reads
	@COMPOSE="$(COMPOSE)" bash scripts/compose-pause.sh $(call replica)

resume-replica: ## Unfreeze replica N: Delivery "missed messages" jumps, Staleness shows its stale reads
	$(COMPOSE) unpause $(call replica)

partition: ## Cut replica N off Redis and MongoDB (HTTP still served): "subscriber up" goes 0, stale reads follow
	docker network disconnect $(BUS_NETWORK) $(call container)

heal: ## Reconnect replica N to the bus: subscriber up again, "reconnects" +1, missed messages counted
	docker network connect $(BUS_NETWORK) $(call container)

restart-redis: ## Restart Redis: publish errors, reconnects and missed messages on every replica
	$(COMPOSE) restart redis

crash-before-publish: ## Replica N's next write commits, then it dies unpublished: stale reads on the others, no message missed
	$(COMPOSE) exec -T $(call replica) node -e "fetch('http://127.0.0.1:9000/chaos/crash-before-publish',{method:'POST',headers:{authorization:'Bearer '+process.env.CHAOS_TOKEN,'content-type':'application/json'}}).then(r=>r.text()).then(console.log)"

failover: ## Kill the Redis master of a TOPOLOGY=sentinel or cluster stack: Delivery shows failovers, publish errors, missed
	@COMPOSE="$(COMPOSE)" bash scripts/compose-failover.sh

clean: ## Remove build output and cached binaries
	rm -rf dist .cache coverage
