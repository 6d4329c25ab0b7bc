#!/usr/bin/env bash
# The deterministic demo: tools under capabilities, policy, limits and a verifiable audit log;
# AgentImages built into the state directory.
# Run it with `./dev.sh demo` (which builds first). Uses a fresh state directory each time.
set -uo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
libos="$target/release/libos"
components="$("$target/release/libos-guests")"
images="$(dirname "$components")/images"
demo="$target/demo"
rm -rf "$demo"
mkdir -p "$demo/work/notes"
export LIBOS_STATE_DIR="$demo/state"
printf 'buy milk\ncall the plumber\n' > "$demo/work/notes/todo.txt"
cat > "$demo/ask-writes.cedar" <<'CEDAR'
@id("reads") permit(principal, action == Action::"fs.read", resource);
@id("no-secrets") forbid(principal, action, resource) when { resource.path like "secrets/*" };
@id("ask-writes") @decision("ask") permit(principal, action == Action::"fs.write", resource);
CEDAR

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; echo "(exit $?)"; }
tool() { echo "$components/$1.wasm"; }
w="$demo/work"

step "What a tool is made of" "$libos" tool inspect "$(tool read_file)"
step "A pure tool needs no capability" "$libos" tool call "$(tool word_count)" --input '{"text":"the quick brown fox"}'
step "Reading with fs.read on notes/**" "$libos" tool call "$(tool read_file)" --workdir "$w" --allow 'fs.read:notes/**' --input '{"path":"notes/todo.txt"}'
step "Writing without a capability is denied (exit 3)" "$libos" tool call "$(tool write_file)" --workdir "$w" --input '{"path":"notes/todo.txt","content":"pwned"}'
echo "notes/todo.txt is unchanged:"; cat "$w/notes/todo.txt"
step "Escaping the working directory is denied" "$libos" tool call "$(tool read_file)" --workdir "$w" --allow fs.read --input '{"path":"../../etc/passwd"}'
step "A policy can ask a human first (exit 4)" "$libos" tool call "$(tool write_file)" --workdir "$w" --allow fs.write --policy "$demo/ask-writes.cedar" --input '{"path":"notes/todo.txt","content":"pwned"}'
step "Granted and permitted, the write happens" "$libos" tool call "$(tool write_file)" --workdir "$w" --allow 'fs.write:notes/*' --input '{"path":"notes/done.txt","content":"demo ran\n"}'
cat "$w/notes/done.txt"
step "A component importing the network loads: each use is decided when it happens" "$libos" tool inspect "$(tool sockets)"
step "Its connect to an internal address no capability names is refused (exit 7)" "$libos" tool call "$(tool sockets)" --allow 'net.connect:*:22' --input '{"op":"tcp","host":"127.0.0.1","port":22,"send":""}'
step "With --strict-imports it is refused before it runs (exit 5)" "$libos" --strict-imports tool inspect "$(tool sockets)"
step "A runaway loop stops at its deadline (exit 6)" "$libos" tool call "$(tool spin)" --timeout 300ms
step "A memory bomb stops at its cap (exit 6)" "$libos" tool call "$(tool membomb)" --max-memory 32M
step "An AgentImage: a manifest and its components, stored by content hash" "$libos" image build "$images/coding-agent"
step "Its worker image" "$libos" image build "$images/log-parser"
step "Images in the state directory" "$libos" image ls
step "What the coding-agent image holds" "$libos" image inspect coding-agent
proj="$(mktemp -d)"; cp -r "$images/workspace/." "$proj/"
step "Run it: it reads a file through a tool, files tracebacks in object memory, and has a log-parser child parse the log" "$libos" run coding-agent --workdir "$proj" --input '{"log":"pytest.log","source":"src/calc.py"}'
step "The process tree (the child held only fs.read on the log)" "$libos" ps --tree
mkdir -p "$demo/jit-agent" "$w/handed"
cp "$(tool agent_script)" "$demo/jit-agent/agent.wasm"
cp "$(tool read_file)" "$w/handed/reader.wasm"
cat > "$demo/jit-agent/image.toml" <<'TOML'
name = "jit-agent"
version = "1"
agent = "agent.wasm"
capabilities = ["tool.register:*", "fs.read:**"]
TOML
step "A JIT agent image: it may register tools and read everything" "$libos" image build "$demo/jit-agent"
step "JIT tools: the agent registers a component it was handed, granting it only notes/**; asking for more than it holds is refused; the tool reads notes/ but not handed/" \
    "$libos" run jit-agent --workdir "$w" --input '{"steps":[
      {"op":"register","file":"handed/reader.wasm","name":"reader","caps":["fs.read:notes/**"]},
      {"op":"register","file":"handed/reader.wasm","name":"writer","caps":["fs.write:**"]},
      {"op":"tool","name":"reader","input":{"path":"notes/todo.txt"}},
      {"op":"tool","name":"reader","input":{"path":"handed/reader.wasm"}}]}'
step "Why is reading secrets/ refused?" "$libos" policy explain --policy "$demo/ask-writes.cedar" --allow fs.read --action fs.read --resource secrets/key.txt
step "Every decision is in the audit log" "$libos" audit show
step "The audit log verifies" "$libos" audit verify
echo; echo "Tampering with a record..."
python3 - "$LIBOS_STATE_DIR/libos.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); db.execute("UPDATE audit SET verdict='allow' WHERE seq=3"); db.commit()
PY
step "...is detected (exit 9)" "$libos" audit verify
exit 0
