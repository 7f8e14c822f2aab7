// Uploads from this frame are keyed with XXH3-128 in WebAssembly (hash-wasm's createXXHash128):
// with a daemon that names blobs itself (blob.unnamed) the plugin computes no SHA-256 before an
// upload, and bytes it sent before are only checked with blob.has. Compiled on first use; where
// the frame may not compile WebAssembly the client names blobs with WebCrypto's SHA-256 instead.
import { useContentHasher } from "@layerbridge/common";
import { createXXHash128 } from "hash-wasm";

useContentHasher(createXXHash128);
