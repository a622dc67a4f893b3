#!/usr/bin/env bash
# End-to-end checks of `loom tokenizer` and `loom train --tokenizer bpe`: exact round trips of
# any bytes, special tokens only where allowed, and one clear error line for bad input.
# usage: tests/tokenizer_cli_test.sh PATH/TO/loom
set -u
NAME=tok
. "$(dirname "$0")/lib.sh" "$@"
for i in $(seq 1 200); do
  echo "Line $i: the tokenizer learns words like tokenizer, learning and words; numbers 123$i."
  printf 'def f_%d(x):\n    return x * %d  # comment\n' "$i" "$i"
done > corpus.txt
"$LOOM" tokenizer train --data corpus.txt --vocab-size 600 --out t.tok -q 2>err.txt \
  && ok "train a 600-token tokenizer" || not_ok "tokenizer train" "$(cat err.txt)"

# exact round trips: text, invalid UTF-8, random bytes, special-token look-alikes
printf 'Hello w\xc3\xb6rld \xff\xfe broken \xe2\x82 utf8 <|endoftext|> tabs\t\tand\r\nCRLF 東京 🎉\n' > odd.txt
head -c 5000 /dev/urandom > rand.bin
for f in corpus.txt odd.txt rand.bin; do
  "$LOOM" tokenizer encode -k t.tok "$f" > ids.txt 2>err.txt && "$LOOM" tokenizer decode -k t.tok ids.txt > back.bin 2>>err.txt
  if cmp -s "$f" back.bin; then ok "round trip is exact: $f"; else not_ok "round trip $f" "$(cat err.txt)"; fi
done
n_bytes=$(stat -c %s corpus.txt); n_ids=$("$LOOM" tokenizer encode -k t.tok corpus.txt | wc -w)
[ "$n_ids" -lt $((n_bytes / 2)) ] && ok "the tokenizer compresses its corpus ($n_bytes bytes -> $n_ids tokens)" \
  || not_ok "compression: $n_bytes bytes -> $n_ids tokens"
# special tokens only where allowed
plain=$(printf '<|endoftext|>' | "$LOOM" tokenizer encode -k t.tok | wc -w)
spec=$(printf '<|endoftext|>' | "$LOOM" tokenizer encode -k t.tok --special | wc -w)
[ "$plain" -gt 1 ] && [ "$spec" -eq 1 ] && ok "special-token text is plain text unless --special" \
  || not_ok "special tokens: plain $plain ids, --special $spec ids"
# parallel encoding gives the same ids
cat corpus.txt corpus.txt corpus.txt > big.txt
a=$("$LOOM" tokenizer encode -k t.tok big.txt -t 1 | md5sum); b=$("$LOOM" tokenizer encode -k t.tok big.txt -t 2 | md5sum)
[ "$a" = "$b" ] && ok "2 threads encode exactly as 1" || not_ok "parallel encoding differs"
"$LOOM" tokenizer stats -k t.tok corpus.txt > stats.txt 2>err.txt
grep -q "tokens per byte" stats.txt && grep -q "longest pieces" stats.txt && ok "stats" || not_ok "stats" "$(cat stats.txt err.txt)"

# bad input
: > empty.txt
expect_error "train on an empty corpus" "empty" tokenizer train --data empty.txt --vocab-size 300 --out x.tok
expect_error "vocabulary below 256" "vocab" tokenizer train --data corpus.txt --vocab-size 100 --out x.tok
expect_error "vocabulary above 2^20" "vocab" tokenizer train --data corpus.txt --vocab-size 2000000 --out x.tok
expect_error "missing --out" "out" tokenizer train --data corpus.txt --vocab-size 300
head -c 300 t.tok > cut.tok
expect_error "truncated tokenizer file" "cut.tok" tokenizer encode -k cut.tok corpus.txt
cp t.tok flip.tok; printf '\x55\x55\x55\x55' | dd of=flip.tok bs=1 seek=200 conv=notrunc 2>/dev/null
expect_error "corrupted tokenizer file" "flip.tok" tokenizer encode -k flip.tok corpus.txt
head -c 2000 /dev/urandom > junk.tok
expect_error "random bytes as a tokenizer" "junk.tok" tokenizer encode -k junk.tok corpus.txt
expect_error "unknown tokenizer name" "nonesuch" tokenizer encode -k nonesuch corpus.txt
echo "1 2 999999" > badids.txt
expect_error "decode an id outside the vocabulary" "999999" tokenizer decode -k t.tok badids.txt
expect_error "unknown subcommand" "frob" tokenizer frob
expect_error "train --tokenizer bpe with a tiny vocabulary" "vocab-size" train --data corpus.txt --out r --tokenizer bpe --vocab-size 10

# a model trained with BPE carries the tokenizer: generate and encode agree with tokenizer.bin
"$LOOM" train --data corpus.txt --out run --tokenizer bpe --vocab-size 500 --layers 1 --dim 16 --heads 2 --context 16 \
  --batch 4 --steps 10 --threads 1 --quiet 2>err.txt && [ -s run/tokenizer.bin ] && ok "train --tokenizer bpe writes tokenizer.bin" \
  || not_ok "train --tokenizer bpe" "$(cat err.txt)"
x=$("$LOOM" tokenizer encode -k run/tokenizer.bin corpus.txt | md5sum); y=$("$LOOM" tokenizer encode -k run/model.gguf corpus.txt | md5sum)
[ "$x" = "$y" ] && ok "model.gguf encodes exactly as its tokenizer.bin" || not_ok "model.gguf vs tokenizer.bin encodings differ"
"$LOOM" train --data corpus.txt --out run --tokenizer bpe --vocab-size 500 --layers 1 --dim 16 --heads 2 --context 16 \
  --batch 4 --steps 20 --threads 1 --resume 2>err.txt | true
grep -q "the run.s tokenizer run/tokenizer.bin" err.txt && ok "--resume reuses the run's tokenizer" || not_ok "resume with bpe" "$(cat err.txt)"

finish
