// main.ts's first import, so it runs before any dependency's module code: fast-png and iobuffer
// build a TextDecoder("latin1") and a TextEncoder at load, and UXP documents neither global.
import { installTextCodecs } from "@layerbridge/common";

installTextCodecs();
