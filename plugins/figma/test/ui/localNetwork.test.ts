import { describe, expect, it } from "vitest";
import { localNetworkAccess, watchOpening, type SocketHistory } from "../../src/ui/localNetwork";

/** Permissions.query as a browser answers it: a TypeError for a name it does not know. */
function permissions(known: Record<string, PermissionState>): Permissions {
  return {
    query: async ({ name }: PermissionDescriptor) => {
      const state = known[name];
      if (state === undefined) throw new TypeError(`The provided value '${name}' is not a valid enum value of type PermissionName.`);
      return { state } as PermissionStatus;
    },
  } as Permissions;
}

describe("the Local Network Access permission", () => {
  it("is read under its newest name", async () => {
    expect(await localNetworkAccess(permissions({ "loopback-network": "denied", "local-network-access": "granted" }))).toBe("denied");
  });

  it("is read under an older name where the browser knows only that", async () => {
    expect(await localNetworkAccess(permissions({ "local-network-access": "prompt" }))).toBe("prompt");
  });

  it("is null where the browser knows none of them, or has no Permissions API", async () => {
    expect(await localNetworkAccess(permissions({}))).toBeNull();
    expect(await localNetworkAccess(undefined)).toBeNull();
  });
});

describe("watchOpening", () => {
  /** Only the events watchOpening listens to. */
  const fakeSocket = (): WebSocket => new EventTarget() as WebSocket;

  it("notes a socket that closed before it opened, and forgets it once one opens", () => {
    const history: SocketHistory = { neverOpened: false };
    const create = watchOpening(fakeSocket, history);
    create("ws://localhost:7842").dispatchEvent(new Event("close"));
    expect(history.neverOpened).toBe(true);
    const second = create("ws://localhost:7842");
    second.dispatchEvent(new Event("open"));
    expect(history.neverOpened).toBe(false);
    second.dispatchEvent(new Event("close")); // a socket that opened and closed later
    expect(history.neverOpened).toBe(false);
  });
});
