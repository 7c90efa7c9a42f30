/**
 * `vmheap/viz`: pictures of the library's state as SVG strings, built without a DOM (they work
 * in Node and in browsers alike), each a pure function of the state it draws. A subpath of its
 * own, so that importing the heap alone stays small.
 *
 * ```ts
 * import { heapSvg } from "vmheap/viz";
 * writeFileSync("heap.svg", heapSvg(heap));
 * ```
 * @packageDocumentation
 * @module vmheap/viz
 */
export { heapSvg, type HeapSvgOptions } from "./heapSvg.js";
export { addressSpaceSvg, PAGE_COLORS, type AddressSpaceSvgOptions } from "./addressSpaceSvg.js";
export { walkSvg } from "./walkSvg.js";
export { walkView, levelNames, type WalkView, type WalkOutcome, type AddressField, type NamedWalkStep } from "./walk.js";
export { framesSvg, type FrameOwner, type FramesSvgOptions } from "./framesSvg.js";
export { faultCurveSvg, type FaultCurveData, type FaultSeries } from "./faultCurveSvg.js";
export { freeLists, binRange, type FreeList, type FreeLists } from "./freeLists.js";
export { regionPages, frameOwners, PAGE_STATES, type PageState, type RegionPages, type FrameUse, type SpaceLike } from "./pages.js";
export { simulate, faultCurve, anomalies, randomRefs, seededRandom, PAGE_POLICIES, type PagePolicy } from "./replacement.js";
