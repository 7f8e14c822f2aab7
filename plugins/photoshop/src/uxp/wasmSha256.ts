// Blobs are hashed before each upload; UXP has no crypto.subtle, and its plain-JS fallback takes
// ~0.6 s for a 4096² canvas. UXP runs WebAssembly ("UXP also supports WebAssembly",
// https://developer.adobe.com/photoshop/uxp/2022/guides/code-samples/): hash with hash-wasm's
// SHA-256 there. Compiled on first use, not at load.
import { useWasmSha256 } from "@layerbridge/common";
import { createSHA256 } from "hash-wasm";

useWasmSha256(createSHA256);
