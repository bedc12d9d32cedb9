import Foundation
@_spi(Testing) import RNNKit
import Testing

/// The choice of kernels at run time: the widest path the CPU reports, `RNNKIT_ISA` when it names
/// one the CPU runs, and a refusal by name otherwise.
@Suite struct KernelDispatchTests {
    let both = KernelISA.cpuAVX2 | KernelISA.cpuAVX512

    @Test func picksTheWidestPathTheCPUReports() throws {
        #expect(try KernelISA.choose(request: nil, cpu: both) == .avx512)
        #expect(try KernelISA.choose(request: nil, cpu: KernelISA.cpuAVX2) == .avx2)
        #expect(try KernelISA.choose(request: nil, cpu: 0) == .portable)
        #expect(try KernelISA.choose(request: "", cpu: both) == .avx512)
        // AVX-512 kernels use FMA and the AVX2 integer operations: never chosen without them.
        #expect(KernelISA.supported(cpu: KernelISA.cpuAVX512) == [.portable])
    }

    @Test func honoursARunnableRequest() throws {
        #expect(try KernelISA.choose(request: "avx2", cpu: both) == .avx2)
        #expect(try KernelISA.choose(request: "PORTABLE", cpu: both) == .portable)
        #expect(try KernelISA.choose(request: "portable", cpu: 0) == .portable)
        // The test path: the AVX-512 build's logic, wherever AVX2 runs, and only when requested.
        #expect(try KernelISA.choose(request: "avx512-logic", cpu: KernelISA.cpuAVX2) == .avx512Logic)
        #expect(try KernelISA.choose(request: "AVX512-LOGIC", cpu: both) == .avx512Logic)
        #expect(!KernelISA.supported(cpu: both).contains(.avx512Logic))
        #expect(KernelISA.avx512Logic.kernels?.description == "avx512 logic on avx2")
    }

    @Test func refusesAPathTheCPUCannotRun() {
        #expect(throws: RNNKitError.self) { try KernelISA.choose(request: "avx512", cpu: KernelISA.cpuAVX2) }
        #expect(throws: RNNKitError.self) { try KernelISA.choose(request: "avx2", cpu: 0) }
        #expect(throws: RNNKitError.self) { try KernelISA.choose(request: "avx512-logic", cpu: 0) }
        #expect(throws: RNNKitError.self) { try KernelISA.choose(request: "neon", cpu: both) }
    }

    /// This process (RNNKIT_ISA unset in the test run) uses the widest path of the CPU it runs on:
    /// AVX-512 where the CPU reports it.
    @Test func thisProcessUsesTheWidestPath() {
        let requested = ProcessInfo.processInfo.environment[KernelISA.variable] ?? ""
        guard requested.isEmpty else { return }
        #expect(KernelISA.active == KernelISA.supported[0])
        #expect((VectorKernels.active == nil) == (KernelISA.active == .portable))
    }

    /// With RNNKIT_ISA set (`make test` reruns the suites whose arithmetic goes through the kernels
    /// on every other path this CPU runs), this process runs the path requested, not the widest:
    /// a request the CPU cannot run fails here instead of silently testing the widest path again.
    @Test func thisProcessUsesTheRequestedPath() {
        let requested = ProcessInfo.processInfo.environment[KernelISA.variable] ?? ""
        guard !requested.isEmpty else { return }
        #expect(KernelISA.active.rawValue == requested.lowercased())
        #expect(VectorKernels.active?.description == KernelISA.active.kernels?.description)
    }

    /// OpenBLAS is restarted with its AVX-512 kernels only where RNNKit runs AVX-512 and OpenBLAS
    /// chose AVX2 ones ("Zen" or "Haswell").
    @Test func blasCoreFollowsTheActivePath() {
        #expect(KernelISA.preferredBLASCore(active: .avx512, chosen: "Haswell") == "SkylakeX")
        #expect(KernelISA.preferredBLASCore(active: .avx512, chosen: "Zen") == "SkylakeX")
        #expect(KernelISA.preferredBLASCore(active: .avx512, chosen: "SkylakeX") == nil)
        #expect(KernelISA.preferredBLASCore(active: .avx512, chosen: "SapphireRapids") == nil)
        #expect(KernelISA.preferredBLASCore(active: .avx2, chosen: "Haswell") == nil)
        #expect(KernelISA.preferredBLASCore(active: .portable, chosen: "Zen") == nil)
        #expect(KernelISA.preferredBLASCore(active: .avx512, chosen: nil) == nil)
        // On this machine: no restart is wanted unless this CPU has AVX-512.
        if !KernelISA.supported.contains(.avx512) { #expect(KernelISA.preferredBLASCore() == nil) }
    }

    /// The restart that gives OpenBLAS its AVX-512 kernels, made here with another core (the test
    /// hook RNNKIT_TEST_BLAS_RESTART) since this CPU may want none: the restarted process has
    /// OPENBLAS_CORETYPE set, OpenBLAS loads that core, and the arguments reach the command.
    @Test func blasRestartReachesOpenBLAS() throws {
        #if os(Linux)
        guard let chosen = blasCoreName, KernelISA.supported.contains(.avx2) else { return }
        let other = chosen.lowercased() == "haswell" ? "Sandybridge" : "Haswell"
        let arguments = ["bench", "--hidden", "3", "--batch", "2", "--seq-len", "2", "--features", "2", "--seconds", "0.01",
                         "--warmup", "0", "--only", "inference", "--json"]
        // On the portable path bench's ceiling skips the own kernel's 2048² product, slow in a debug build.
        let restarted = try runRNNKit(arguments, environment: ["RNNKIT_TEST_BLAS_RESTART": other, "OPENBLAS_CORETYPE": "", "RNNKIT_ISA": "portable"])
        #expect(restarted.status == 0, "\(restarted.stderr)")
        #expect(restarted.stdout.contains("\"blas_core\":\"\(other)\""), "\(restarted.stdout)")
        #expect(restarted.stdout.contains("skipped"), "the arguments after the restart: \(restarted.stdout)")
        // Where OPENBLAS_CORETYPE is set already, the process is not restarted and OpenBLAS keeps it.
        let kept = try runRNNKit(arguments, environment: ["RNNKIT_TEST_BLAS_RESTART": other, "OPENBLAS_CORETYPE": chosen, "RNNKIT_ISA": "portable"])
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(kept.stdout.contains("\"blas_core\":\"\(chosen)\""), "\(kept.stdout)")
        #endif
    }

    /// `rnnkit bench` says which path ran, and RNNKIT_ISA=portable changes it.
    @Test func benchNamesThePath() throws {
        let arguments = ["bench", "--hidden", "4", "--batch", "2", "--seq-len", "3", "--features", "2", "--seconds", "0.02",
                         "--warmup", "0", "--json"]
        let widest = try runRNNKit(arguments, environment: ["RNNKIT_ISA": ""])  // unset: the widest
        #expect(widest.status == 0, "\(widest.stderr)")
        #expect(widest.stdout.contains("\(KernelISA.supported[0].rawValue) kernels"), "\(widest.stdout)")
        let library = try ProductLibrary.choose(request: nil, isa: KernelISA.supported[0]) { ProductLibrary.oneDNNUnavailable }
        #expect(widest.stdout.contains("large products through \(library.rawValue)"), "\(widest.stdout)")
        #expect(widest.stdout.contains("\"gemm\":\"\(library.rawValue)\""), "\(widest.stdout)")
        let portable = try runRNNKit(arguments, environment: ["RNNKIT_ISA": "portable"])
        #expect(portable.status == 0, "\(portable.stderr)")
        #expect(portable.stdout.contains("portable kernels"), "\(portable.stdout)")
        #expect(portable.stdout.contains("\"kernels\":\"portable\""), "\(portable.stdout)")
        #expect(portable.stdout.contains("\"gemm\":\"blas\""), "\(portable.stdout)")
        if KernelISA.supported.contains(.avx2) {
            let logic = try runRNNKit(arguments, environment: ["RNNKIT_ISA": "avx512-logic"])
            #expect(logic.status == 0, "\(logic.stderr)")
            #expect(logic.stdout.contains("avx512-logic kernels"), "\(logic.stdout)")
        }
    }
}
