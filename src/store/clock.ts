/** The store's clock: every timestamp it writes comes from here, so tests can set the time. */
export type WallClock = () => Date;

export const systemWallClock: WallClock = () => new Date();
