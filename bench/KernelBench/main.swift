// kernel-bench: GEMM and conv throughput of every kernel tier on the shapes that dominate
// swin-tiny-ade at 512×512 (and its stage-0 window attention, float and int8), beside the machine's
// measured peak, 1 and 2 threads.
//   swift run -c release kernel-bench [--peak] [--only TEXT] [--fast]
//   (--peak: the measured peaks only; --only: the rows whose shape name contains TEXT; --fast: the
//   fastest tier of each precision only)
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Kernels
import Quant
import _CKernels

func seconds(_ body: () -> Void) -> Double {
  let t = DispatchTime.now()
  body()
  return Double(DispatchTime.now().uptimeNanoseconds - t.uptimeNanoseconds) / 1e9
}

func median(_ runs: Int, _ body: () -> Void) -> Double {
  body()  // warm-up
  return (0..<runs).map { _ in seconds(body) }.sorted()[runs / 2]
}

func fmt(_ x: Double) -> String {
  let r = (x * 10).rounded() / 10
  return "\(r)"
}

let features = CPUFeatures.detect()
print("CPU features: \(features)")
if features.hasAVX512VNNI {
  let iters = 50_000_000
  let t = median(3) { _ = es_peak_vpdpbusd(iters) }
  let rate: Double = Double(iters) * 1280 / t / 1e9
  print("peak vpdpbusd, 1 core: \(fmt(rate)) GMAC/s (20 independent chains)")
}
if features.hasAVX512F {
  let iters = 50_000_000
  let t = median(3) { _ = es_peak_fma512(iters) }
  let rate: Double = Double(iters) * 320 / t / 1e9
  print("peak fp32 FMA (zmm), 1 core: \(fmt(rate)) GFMA/s")
}
if features.hasAVX2FMA && !features.hasAVX512VNNI {
  let iters = 50_000_000
  let t = median(3) { _ = es_peak_vpmaddwd(iters) }
  let rate: Double = Double(iters) * 192 / t / 1e9
  print("peak vpmaddwd (the AVX2 int8 MAC), 1 core: \(fmt(rate)) GMAC/s (12 independent chains)")
  let t2 = median(3) { _ = es_peak_fma256(iters) }
  print("peak fp32 FMA (ymm), 1 core: \(fmt(Double(iters) * 96 / t2 / 1e9)) GFMA/s")
}
// `--peak`: the peaks only (bench/e2e.py prints them beside its table).
if CommandLine.arguments.contains("--peak") { exit(0) }
let only: String? = CommandLine.arguments.firstIndex(of: "--only").flatMap { $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil }
let fastOnly = CommandLine.arguments.contains("--fast")
func selected(_ name: String) -> Bool { only.map { name.contains($0) } ?? true }

/// `handOver`: the int8 output with GELU that fc1 hands to fc2 in the model (else float out, identity).
/// `convWidth`: a 3x3 conv (pad 1) over an m / convWidth x convWidth map addressed as the model's
/// `Conv2d.implicitGEMM` does (row i, tap t -> the neighbour's channels, a zero row outside), so each input
/// byte is read by 9 rows from cache; without it, row i's 9 segments are 9 distinct blocks of an m x K
/// matrix streamed from memory (the "direct GEMM" row, kept for comparison with earlier sessions).
struct Shape { var name: String; var m: Int; var n: Int; var segments: [Int]; var handOver = false; var convWidth: Int? = nil }
let shapes = [
  Shape(name: "stage0 MLP fc1 (16384x384x96)", m: 16384, n: 384, segments: [96]),
  Shape(name: "stage0 MLP fc1, GELU, int8 out (16384x384x96)", m: 16384, n: 384, segments: [96], handOver: true),
  Shape(name: "stage0 MLP fc2 (16384x96x384)", m: 16384, n: 96, segments: [384]),
  Shape(name: "stage2 q/k/v (1024x384x384)", m: 1024, n: 384, segments: [384]),
  Shape(name: "FPN 3x3 conv (16384x256x9*256)", m: 16384, n: 256, segments: [Int](repeating: 256, count: 9)),
  Shape(name: "stride-4 3x3 conv, implicit (128x128x256 -> 256)", m: 16384, n: 256, segments: [Int](repeating: 256, count: 9), convWidth: 128),
]

// In a function, not top-level code (see windowAttentionBench).
func gemmBench() {
print("\n| shape | kernel | threads | ms | GMAC/s |")
print("|---|---|---|---|---|")
for s in shapes where selected(s.name) {
  let k = s.segments.reduce(0, +)
  let macs = Double(s.m * s.n * k)
  var rng: UInt64 = 1
  func next() -> UInt64 {
    rng = rng &* 6364136223846793005 &+ 1442695040888963407
    return rng >> 33
  }
  var w = [Float](repeating: 0, count: s.n * k)
  for i in w.indices { w[i] = Float(Int(next() % 2000) - 1000) / 1000 }
  let packed = QGEMMPacking.pack(n: s.n, k: k, weight: { w[$0 * k + $1] }, bias: nil, inputScale: 0.02).bytes
  // The A matrix, or for a conv the input map (m rows of cin) and one zero row after it.
  let cin = s.segments[0], aRows = s.convWidth == nil ? s.m : s.m + 1, aWidth = s.convWidth == nil ? k : cin
  var a = [Int8](repeating: 0, count: aRows * aWidth)
  for i in 0..<(s.m * aWidth) { a[i] = Int8(truncatingIfNeeded: next()) }
  let af: [Float] = a.map { Float($0) / 50 }
  /// Row i's segment sg: its own block, or the conv tap's neighbour (the zero row outside the map).
  func rowOffset(_ i: Int, _ sg: Int, _ offsets: [Int]) -> Int {
    guard let w = s.convWidth else { return i * k + offsets[sg] }
    let h = s.m / w, sy = i / w + sg / 3 - 1, sx = i % w + sg % 3 - 1
    return sy >= 0 && sy < h && sx >= 0 && sx < w ? (sy * w + sx) * cin : s.m * cin
  }
  var out = [Float](repeating: 0, count: s.m * s.n)
  for threads in [1, 2] {
    let int8Tiers = QS8GEMMKernel.allCases.filter { $0 != .reference && $0.isSupported(on: features) && (!s.handOver || $0 != .portable) }
    for kernel in int8Tiers where !fastOnly || kernel == int8Tiers.last {
      let t = packed.withUnsafeBytes { wb in
        a.withUnsafeBufferPointer { ab in
          out.withUnsafeMutableBufferPointer { ob in
            let ap = ab.baseAddress!, segs = s.segments
            var offsets = [0]
            for len in segs.dropLast() { offsets.append(offsets.last! + len) }
            let out8 = UnsafeMutableRawPointer(ob.baseAddress!).assumingMemoryBound(to: Int8.self)
            let p = Int8GEMMProblem(m: s.m, weights: QGEMMWeights(base: wb.baseAddress!, n: s.n, k: k), segments: segs,
                                    aRow: { i, sg in ap + rowOffset(i, sg, offsets) }, aZeroPoint: 3,
                                    output: s.handOver
                                      ? .int8(out8, ldc: s.n, inputScale: 0.02, output: QuantParams(scale: 0.05, zeroPoint: -60), activation: .gelu)
                                      : .float(ob.baseAddress!, ldc: s.n, inputScale: 0.02, activation: .identity, residual: nil, residualStride: 0))
            return median(5) { Int8GEMM.run(p, kernel: kernel, threads: threads) }
          }
        }
      }
      let gmacs: Double = macs / t / 1e9
      print("| \(s.name) | int8 \(kernel.rawValue) | \(threads) | \(fmt(t * 1000)) | \(fmt(gmacs)) |")
    }
    let f32Tiers = F32GEMMKernel.allCases.filter { $0 != .reference && $0.isSupported(on: features) && !s.handOver }
    for kernel in f32Tiers where !fastOnly || kernel == f32Tiers.last {
      let t = w.withUnsafeBufferPointer { wb in
        af.withUnsafeBufferPointer { ab in
          out.withUnsafeMutableBufferPointer { ob in
            let ap = ab.baseAddress!
            var offsets = [0]
            for len in s.segments.dropLast() { offsets.append(offsets.last! + len) }
            let segs = zip(s.segments, offsets).map { len, off in
              F32MatrixView(base: wb.baseAddress! + off, rows: s.n, cols: len, rowStride: k, colStride: 1)
            }
            let p = F32GEMMProblem(m: s.m, n: s.n, segments: segs, aRow: { i, sg in ap + rowOffset(i, sg, offsets) }, bias: nil,
                                   c: ob.baseAddress!, ldc: s.n)
            return median(3) { F32GEMM.run(p, kernel: kernel, threads: threads) }
          }
        }
      }
      let gmacs: Double = macs / t / 1e9
      print("| \(s.name) | f32 \(kernel.rawValue) | \(threads) | \(fmt(t * 1000)) | \(fmt(gmacs)) |")
    }
  }
}
}
gemmBench()

// Swin window attention as stage 0 of swin-tiny-ade at 512x512 runs it: 361 windows of 49 tokens,
// 3 heads of 32, q/k/v rows of 96 floats in 16384-row maps (read through row pointers), float and int8.
// In a function, not top-level code: its locals are then plain locals (top-level variables are
// globals, and reading them in the loop cost as much as the kernel).
func windowAttentionBench() {
  let alias = ProcessInfo.processInfo.environment["EB_ALIAS"] != nil
  let (windows, n, heads, hd) = (361, 49, 3, 32), c = heads * hd, rows = windows * n
  var rng: UInt64 = 7
  func next() -> Float {
    rng = rng &* 6364136223846793005 &+ 1442695040888963407
    return Float(Int(rng >> 33) % 2001 - 1000) / 500
  }
  let q = (0..<(rows * c)).map { _ in next() }, k = (0..<(rows * c)).map { _ in next() }, v = (0..<(rows * c)).map { _ in next() }
  let bias = (0..<(heads * n * n)).map { _ in next() }
  var out = [Float](repeating: 0, count: rows * c)
  let macs = Double(windows * heads * 2 * n * n * hd)
  print("\n| window attention (361 windows x 3 heads, 49 tokens, head dim 32) | kernel | threads | ms | GMAC/s |")
  print("|---|---|---|---|---|")
  for int8 in [false, true] {
    let name = int8 ? "int8 \(features.hasAVX512VNNI ? "avx512vnni" : "portable")" : "f32 \(features.hasAVX512F ? "avx512" : "portable")"
    let t = q.withUnsafeBufferPointer { qb in k.withUnsafeBufferPointer { kb in v.withUnsafeBufferPointer { vb in
      bias.withUnsafeBufferPointer { bb in out.withUnsafeMutableBufferPointer { ob in
        let scratchBytes = max(4 * Attention.windowScratchCount(n: n, headDim: hd), Attention.windowInt8ScratchBytes(n: n, headDim: hd))
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 64)
        defer { scratch.deallocate() }
        let hq = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: 3 * n), hk = hq + n, hv = hk + n
        let ho = UnsafeMutablePointer<UnsafeMutablePointer<Float>?>.allocate(capacity: n)
        defer { hq.deallocate(); ho.deallocate() }
        return median(5) {
          for w in 0..<windows {
            for h in 0..<heads {
              for i in 0..<n {
                let r = ((alias ? 0 : w) * n + i) * c + h * hd
                hq[i] = qb.baseAddress! + r; hk[i] = kb.baseAddress! + r; hv[i] = vb.baseAddress! + r; ho[i] = ob.baseAddress! + r
              }
              if int8 {
                Attention.windowInt8(n: n, headDim: hd, q: hq, k: hk, v: hv, bias: bb.baseAddress! + h * n * n, mask: nil, out: ho,
                                     scratch: scratch, kernel: features.hasAVX512VNNI ? .avx512vnni : .portable)
              } else {
                Attention.window(n: n, headDim: hd, q: hq, k: hk, v: hv, bias: bb.baseAddress! + h * n * n, mask: nil, out: ho,
                                 scratch: scratch.assumingMemoryBound(to: Float.self), kernel: features.hasAVX512F ? .avx512 : .portable)
              }
            }
          }
        }
      }}
    }}}
    print("| stage0 windows | \(name) | 1 | \(fmt(t * 1000)) | \(fmt(macs / t / 1e9)) |")
  }
}
if selected("stage0 windows") { windowAttentionBench() }
