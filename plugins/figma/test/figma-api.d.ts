// The Plugin API's interfaces without its globals (which clash with Node's and the DOM's): tests
// never touch a global `figma`, they pass a stub.
/// <reference path="../node_modules/@figma/plugin-typings/plugin-api.d.ts" />
