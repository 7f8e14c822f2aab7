// The hashers uploads use, in WebAssembly: UXP runs it ("UXP also supports WebAssembly",
// https://developer.adobe.com/photoshop/uxp/2022/guides/code-samples/) and has no crypto.subtle.
// - XXH3-128 (hash-wasm's createXXHash128) keys what the panel uploads: with a daemon that names
//   blobs itself (blob.unnamed) the panel computes no SHA-256 at all, only this key (over 1 GiB/s
//   in WebAssembly on our machines, against ~120 MiB/s for SHA-256, which finds no SHA
//   instructions there: bench/plugin_hashing.mjs).
// - SHA-256 (hash-wasm's createSHA256) names blobs before an upload to an older daemon; the
//   plain-JS fallback takes ~0.6 s for a 4096² canvas.
// Both compile on first use, not at load (load may touch only what UXP documents as global).
import { useContentHasher, useWasmSha256 } from "@layerbridge/common";
import { createSHA256, createXXHash128 } from "hash-wasm";

useContentHasher(createXXHash128);
useWasmSha256(createSHA256);
