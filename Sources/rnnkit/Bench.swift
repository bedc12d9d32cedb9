import ArgumentParser
import Foundation
import RNNKit

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training and inference speed on random data, against this machine's matrix-product ceiling.",
        discussion: """
        Trains (forward, backward, Adam step) and runs inference for a fixed time after a warm-up, on random data of \
        the given shape: an image-row classifier by default, or with --charlm an embedding → recurrent → per-step \
        logits model. FLOPs count 2 per multiply-add: forward = T·D·Σ_layers 2·(F_l + H)·gH + the output layer, \
        where g is the gate count (1, 3 or 4) and F_l the layer's input size; training = 3 × forward. The char \
        model's first layer reads its tokens' rows of E·W_ihᵀ (RecurrentLayer's token input), so its F_l counts 0 \
        and each sequence adds its share of the batch's table, D·2·V·E·gH / batch. Efficiencies \
        are against the machine's peak: register-only multiply-adds at the widest vector width the CPU has, on every \
        thread (each thread's best few milliseconds, before and after the runs). The best large product (2048×2048 \
        float32, through BLAS, oneDNN where it is installed, and RNNKit's own kernel) is printed beside it. Threads: \
        one per core, or RNNKIT_THREADS=N. Kernels: the widest the CPU has (AVX-512, AVX2), or \
        RNNKIT_ISA=avx512|avx2|portable (or avx512-logic, the AVX-512 build's blocking on AVX2, for tests). A \
        training step's large products go through oneDNN's sgemm with AVX-512 kernels, else through BLAS, or \
        RNNKIT_GEMM=blas|onednn. \
        --only train or --only inference measures one of the two (the other prints as skipped, null in JSON), for \
        profiling.
        """
    )

    @Option(help: "Recurrent cell: lstm, gru, rnn (tanh) or rnn-relu.") var cell: CellOption = .lstm
    @Option(help: "Units per direction.") var hidden = 128
    @Option(help: "Stacked layers.") var layers = 1
    @Flag(help: "Both directions.") var bidirectional = false
    @Option(help: "Sequences per batch.") var batch = 128
    @Option(name: .customLong("seq-len"), help: "Steps per sequence.") var seqLen = 28
    @Option(help: "Features per step (classifier form).") var features = 28
    @Flag(help: "The character-model form: embedding → recurrent stack → logits at every step.") var charlm = false
    @Option(help: "Vocabulary size (char-model form).") var vocabulary = 100
    @Option(help: "Embedding size (char-model form).") var embedding = 64
    @Option(help: "Seconds to measure each of training and inference.") var seconds = 5.0
    @Option(help: "Seconds of warm-up before each measurement.") var warmup = 1.0
    @Flag(help: "End with one line of JSON holding the results.") var json = false
    @Option(help: "Measure only this phase: train or inference.") var only: Phase?

    enum Phase: String, ExpressibleByArgument, CaseIterable { case train, inference }

    func validate() throws {
        for (name, value) in [("--hidden", hidden), ("--layers", layers), ("--batch", batch), ("--seq-len", seqLen),
                              ("--features", features), ("--vocabulary", vocabulary), ("--embedding", embedding)] where value <= 0 {
            throw ValidationError("\(name) must be at least 1 (found \(value)).")
        }
        if !(seconds > 0) || !(warmup >= 0) { throw ValidationError("--seconds must be positive and --warmup not negative.") }
        if charlm && bidirectional { throw ValidationError("--charlm models read only the past; drop --bidirectional.") }
    }

    /// Runs `body` for `warmup` seconds, then counts runs for `seconds`: returns runs per second.
    private func rate(_ body: () throws -> Void) rethrows -> Double {
        let warmStart = Date()
        repeat { try body() } while Date().timeIntervalSince(warmStart) < warmup
        var runs = 0
        let start = Date()
        repeat {
            try body()
            runs += 1
        } while Date().timeIntervalSince(start) < seconds
        return Double(runs) / Date().timeIntervalSince(start)
    }

    func run() throws {
        var g = SeededGenerator(seed: 0)
        let input = charlm ? embedding : features
        let recurrent = RecurrentConfiguration(cell: cell.cell, inputSize: input, hiddenSize: hidden, numLayers: layers,
                                               isBidirectional: bidirectional)
        let D = recurrent.numDirections, gH = cell.cell.gateCount * hidden
        var recurrentFLOPs = 0.0
        // The char model's first layer multiplies no input: it reads its tokens' rows of a table made once a batch.
        let firstInput = charlm ? 0 : input
        for l in 0..<layers {
            recurrentFLOPs += Double(seqLen * D) * 2 * Double((l == 0 ? firstInput : D * hidden) + hidden) * Double(gH)
        }
        if charlm { recurrentFLOPs += Double(D) * 2 * Double(vocabulary * input * gH) / Double(batch) }
        let outputFLOPs = charlm ? Double(seqLen) * 2 * Double(hidden * vocabulary) : 2 * Double(recurrent.outputSize * 10)
        let forwardFLOPs = recurrentFLOPs + outputFLOPs  // per sequence

        let trainStep: () throws -> Void
        let inferStep: () throws -> Void
        var parameters = 0
        if charlm {
            let chars = (0..<(vocabulary)).map { String(UnicodeScalar(0x4E00 + $0)!) }.joined()
            let model = try CharLanguageModel<Float>(CharLMConfiguration(vocabulary: Vocabulary(text: chars), embeddingSize: embedding,
                                                                         recurrent: recurrent), generator: &g)
            let optimizer = try Optimizer<Float>(OptimizerConfiguration(kind: .adam, learningRate: 1e-3))
            let ids = (0..<(batch * seqLen)).map { _ in Int(g.next() % UInt64(vocabulary)) }
            let targets = ids.map { ($0 + 1) % vocabulary }
            parameters = model.namedParameters.reduce(0) { $0 + $1.variable.value.count }
            trainStep = {
                var none: SeededGenerator? = nil
                let (logits, _) = try model(ids: ids, batch: batch, steps: seqLen, state: nil, training: &none)
                let loss = try Loss.sequenceLoss(logits: logits, targets: targets)
                model.zeroGrad()
                try loss.backward()
                optimizer.step(model.namedParameters)
            }
            inferStep = { _ = try model.logits(ids: ids, batch: batch, steps: seqLen, state: nil) }
        } else {
            let model = try SequenceClassifier<Float>(SequenceClassifierConfiguration(features: features, recurrent: recurrent, classes: 10),
                                                      generator: &g)
            let optimizer = try Optimizer<Float>(OptimizerConfiguration(kind: .adam, learningRate: 1e-3))
            let x = try Tensor<Float>.uniform(shape: [batch, seqLen, features], low: 0, high: 1, generator: &g)
            let labels = (0..<batch).map { _ in Int(g.next() % 10) }
            parameters = model.namedParameters.reduce(0) { $0 + $1.variable.value.count }
            trainStep = {
                let loss = try Loss.softmaxCrossEntropy(logits: model(Variable(x)), labels: labels)
                model.zeroGrad()
                try loss.backward()
                optimizer.step(model.namedParameters)
            }
            inferStep = { _ = try model.logits(x) }
        }

        // The peak before and after the timed runs, the higher of the two: a core that the host
        // slows down for the whole of one measurement does not set the ceiling.
        let peakBefore = KernelISA.peakGFLOPs(seconds: min(0.3, seconds))
        let trainRate = only == .inference ? .nan : try rate(trainStep) * Double(batch)
        let inferRate = only == .train ? .nan : try rate(inferStep) * Double(batch)
        let products = try KernelISA.largeProductGFLOPs(seconds: min(1, seconds))
        let bestProduct = max(products.blas, products.onednn ?? 0, products.packed ?? 0)
        let peak = KernelISA.peakGFLOPs(seconds: min(0.3, seconds)).map { max($0, peakBefore ?? 0) }
        let ceiling = peak ?? bestProduct
        let trainGFLOPs = trainRate * 3 * forwardFLOPs / 1e9
        let inferGFLOPs = inferRate * forwardFLOPs / 1e9
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peakMB = Double(usage.ru_maxrss) / 1024  // kilobytes on Linux
        #else
        getrusage(RUSAGE_SELF, &usage)
        let peakMB = Double(usage.ru_maxrss) / 1024 / 1024  // bytes on macOS
        #endif

        let shape = charlm ? "embedding \(embedding) (vocabulary \(vocabulary)) → " : "features \(features) → "
        log("config: \(shape)\(cell.cell.rawValue) \(hidden)\(bidirectional ? "×2" : "") × \(layers) layer(s), batch \(batch), "
            + "seq-len \(seqLen), \(parameters) parameters; \(computeThreads) threads, \(KernelISA.active.rawValue) kernels "
            + "(this CPU: \(KernelISA.supported.map(\.rawValue).joined(separator: ", "))), large products through \(ProductLibrary.active.rawValue)")
        log(String(format: "FLOPs per sequence: forward %.3g (recurrent %.3g + output %.3g), training 3 × forward", forwardFLOPs, recurrentFLOPs, outputFLOPs))
        for (name, rate, gflops) in [("train:    ", trainRate, trainGFLOPs), ("inference:", inferRate, inferGFLOPs)] {
            log(rate.isNaN ? "\(name)    skipped (--only)"
                : String(format: "%@ %10.0f samples/s  %7.1f GFLOP/s  %5.1f%% of %@", name, rate, gflops, 100 * gflops / ceiling,
                         peak == nil ? "best product" : "peak"))
        }
        if let peak {
            let width = KernelISA.supported[0] == .avx512 ? 512 : 256
            log(String(format: "peak:      %.1f GFLOP/s (register-only multiply-adds, %d-bit vectors, %d threads)", peak, width, computeThreads))
        }
        let onednn = products.onednn.map { String(format: "; oneDNN %.1f", $0) } ?? ""
        let own = products.packed.map { String(format: "; own kernel %.1f", $0) } ?? ""
        let core = blasCoreName.map { " (OpenBLAS core \($0))" } ?? ""
        log(String(format: "product:   %.1f GFLOP/s best, %.0f%% of peak (2048×2048 float32: BLAS %.1f%@%@%@)   peak memory %.0f MB",
                   bestProduct, 100 * bestProduct / ceiling, products.blas, core, onednn, own, peakMB))
        #if DEBUG
        // SwiftPM builds the C kernels without optimization in a debug build: the peak loop then runs
        // at a sixth of the machine (34 against 207 GFLOP/s on a 2-core AMD EPYC), while BLAS, built
        // elsewhere, does not (a product at 377% of "peak").
        log("note:      a debug build: RNNKit's own kernels and the peak loop run unoptimized, so neither its speeds "
            + "nor the shares of peak mean anything; measure with a release build (make release, or swift build -c release)")
        let debugBuild = true
        #else
        let debugBuild = false
        #endif
        if json {
            printJSONLine(["debug_build": debugBuild, "train_samples_per_s": trainRate, "infer_samples_per_s": inferRate,
                           "train_gflops": trainGFLOPs,
                           "infer_gflops": inferGFLOPs, "peak_gflops": ceiling, "ceiling_gflops": bestProduct,
                           "blas_gflops": products.blas, "onednn_gflops": products.onednn ?? Double.nan,
                           "own_product_gflops": products.packed ?? Double.nan, "gemm": ProductLibrary.active.rawValue,
                           "kernels": KernelISA.active.rawValue, "blas_core": blasCoreName.map { $0 as Any } ?? NSNull(), "train_efficiency": trainGFLOPs / ceiling,
                           "infer_efficiency": inferGFLOPs / ceiling, "peak_memory_mb": peakMB, "parameters": parameters,
                           "forward_flops_per_sample": forwardFLOPs])
        }
    }
}
