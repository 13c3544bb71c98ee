/**
 * Chat templates of the families' shapes, written here from their documented prompt formats (not copied
 * from the Hub), rendered through @huggingface/jinja; the prompt then encodes with a tokenizer.json.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { chatTemplateFromConfig, loadChatTemplate, stopTokenIds } from "../../src/io/chat.js";
import { loadTokenizer } from "../../src/io/tokenizer.js";
import { UserError } from "../../src/util/errors.js";
import { tokenizerJson, wordLevelModel } from "../fixtures/tokenizers.js";
import { withTempDir } from "../cli/helpers.js";

/** Llama 3: <|begin_of_text|>, then per message a header with the role, the trimmed content and <|eot_id|>. */
const LLAMA3 =
  "{{- bos_token }}{%- for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n{{ m.content | trim }}<|eot_id|>{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";

/** Qwen2's ChatML, with the default system turn when the conversation has none. */
const CHATML =
  "{%- if messages[0].role != 'system' %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}" +
  "{%- for m in messages %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/** DeepSeek-R1(-Distill): bos, <｜User｜> / <｜Assistant｜> turns, eos after each answer, the open turn starts a <think> block. */
const R1 =
  "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}{{ '<｜User｜>' + m.content }}" +
  "{% elif m.role == 'assistant' %}{{ '<｜Assistant｜>' + m.content + eos_token }}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}";

test("a Llama 3 template renders header-delimited turns after bos, with the assistant's header left open", () => {
  const t = chatTemplateFromConfig({ chat_template: LLAMA3, bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" }, "tc.json");
  const messages = [{ role: "system", content: "Be terse." }, { role: "user", content: " What is 2+2? " }];
  assert.equal(
    t.render(messages, { addGenerationPrompt: true }),
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>" +
      "<|start_header_id|>assistant<|end_header_id|>\n\n",
  );
  assert.equal(
    t.render(messages.slice(1)),
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>",
  );
});

test("a Qwen2 ChatML template adds the default system turn; special tokens come as AddedToken objects", () => {
  const t = chatTemplateFromConfig({ chat_template: CHATML, bos_token: null, eos_token: { __type: "AddedToken", content: "<|im_end|>", special: true } }, "tc.json");
  assert.deepEqual(t.specialTokens, { eos_token: "<|im_end|>" });
  assert.equal(
    t.render([{ role: "user", content: "Hi" }], { addGenerationPrompt: true }),
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
  );
});

test("a DeepSeek-R1 template closes answers with eos and opens the next turn's <think>", () => {
  const t = chatTemplateFromConfig(
    { chat_template: R1, bos_token: { content: "<｜begin▁of▁sentence｜>" }, eos_token: { content: "<｜end▁of▁sentence｜>" } },
    "tc.json",
  );
  const messages = [{ role: "user", content: "1+1?" }, { role: "assistant", content: "2" }, { role: "user", content: "2+2?" }];
  assert.equal(
    t.render(messages, { addGenerationPrompt: true }),
    "<｜begin▁of▁sentence｜><｜User｜>1+1?<｜Assistant｜>2<｜end▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜><think>\n",
  );
});

test("a list of templates uses the one named default; chat_template.jinja wins over tokenizer_config.json", async () => {
  const list = [{ name: "tool_use", template: "TOOLS" }, { name: "default", template: CHATML }];
  const t = chatTemplateFromConfig({ chat_template: list }, "tc.json");
  assert.match(t.render([{ role: "system", content: "S" }]), /^<\|im_start\|>system\nS<\|im_end\|>\n$/);
  assert.throws(() => chatTemplateFromConfig({ chat_template: [{ name: "tool_use", template: "x" }] }, "tc.json"), /tc\.json: chat_template: no template named "default" \(the list has "tool_use"\)/);
  assert.throws(() => chatTemplateFromConfig({}, "tc.json"), (e: Error) => e instanceof UserError && /^tc\.json: chat_template: missing/.test(e.message));
  assert.throws(() => chatTemplateFromConfig({ chat_template: "{% for %}" }, "tc.json"), /tc\.json: the chat template does not parse/);
  assert.throws(() => chatTemplateFromConfig({ chat_template: "{{ raise_exception('roles must alternate') }}" }, "tc.json").render([]), /tc\.json: the chat template failed \(.*roles must alternate/);
  await withTempDir(async (dir) => {
    await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify({ chat_template: "OLD", eos_token: "</s>" }));
    assert.equal((await loadChatTemplate(dir)).render([]), "OLD");
    await writeFile(join(dir, "chat_template.jinja"), "NEW {{ eos_token }}");
    assert.equal((await loadChatTemplate(dir)).render([]), "NEW </s>");
  });
});

/** A word-level tokenizer.json with ChatML's special tokens as added tokens. */
function chatmlTokenizer(): object {
  const words = ["<unk>", "system", "user", "assistant", "You", "are", "a", "helpful", ".", "Hi"];
  return tokenizerJson({
    model: wordLevelModel(Object.fromEntries(words.map((w, i) => [w, i])), "<unk>"),
    pre_tokenizer: { type: "Whitespace" },
    specials: ["<|im_start|>", "<|im_end|>", "<|endoftext|>"].map((content, i) => ({ id: words.length + i, content })),
  });
}

test("the rendered prompt encodes with the directory's tokenizer.json; stop tokens join generation_config's and the tokenizer's eos", async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, "tokenizer.json"), JSON.stringify(chatmlTokenizer()));
    await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify({ chat_template: CHATML, eos_token: "<|im_end|>" }));
    const tokenizer = await loadTokenizer(join(dir, "tokenizer.json"));
    const prompt = (await loadChatTemplate(dir)).render([{ role: "user", content: "Hi" }], { addGenerationPrompt: true });
    // <|im_start|> system You are a helpful assistant . <|im_end|> <|im_start|> user Hi <|im_end|> <|im_start|> assistant
    assert.deepEqual(tokenizer.encode(prompt), [10, 1, 4, 5, 6, 7, 3, 8, 11, 10, 2, 9, 11, 10, 3]);
    assert.equal(tokenizer.decode([10, 2, 9, 11]), "<|im_start|> user Hi <|im_end|>");

    // no generation_config.json: config.json's eos_token_id, then the tokenizer's eos
    await writeFile(join(dir, "config.json"), JSON.stringify({ eos_token_id: 12 }));
    assert.deepEqual(await stopTokenIds(dir, tokenizer), [12, 11]);
    await writeFile(join(dir, "generation_config.json"), JSON.stringify({ eos_token_id: [11, 12] }));
    assert.deepEqual(await stopTokenIds(dir, tokenizer), [11, 12]);
    await writeFile(join(dir, "generation_config.json"), JSON.stringify({ eos_token_id: 12 }));
    assert.deepEqual(await stopTokenIds(dir, null), [12]);
    await writeFile(join(dir, "generation_config.json"), JSON.stringify({ eos_token_id: [11, "x"] }));
    await assert.rejects(stopTokenIds(dir, null), /generation_config\.json: eos_token_id\[1\]: expected a token id, got "x"/);
  });
});
