import Foundation
import RNNKit
import Testing

/// The arithmetic that makes a data-parallel step equal one process's: each rank's gradient of the
/// mean over its share, weighted by what that mean is over, sums to the gradient of the global mean.
@Suite struct DistributedArithmeticTests {
    /// In Double, with shares of unequal size and masked steps (a tagger on sequences of different
    /// lengths), the weighted sum of the shares' gradients equals the whole batch's to round-off.
    @Test func weightedSharesSumToTheWholeBatchGradientInDouble() throws {
        var g = SeededGenerator(seed: 5)
        let (B, T, F, C) = (7, 5, 3, 4)
        let configuration = SequenceClassifierConfiguration(
            features: F, recurrent: RecurrentConfiguration(cell: .lstm, inputSize: F, hiddenSize: 6), readout: .steps, classes: C)
        let model = try SequenceClassifier<Double>(configuration, generator: &g)
        let x: Tensor<Double> = try randomTensor([B, T, F], &g)
        let lengths = [5, 2, 4, 1, 5, 3, 2]
        let labels = (0..<(B * T)).map { _ in Int(g.next() % UInt64(C)) }
        func gradient(rows: [Int]) throws -> (weight: Double, gradients: [[Double]]) {
            var xs: [Double] = [], ys: [Int] = [], mask: [Double] = []
            for b in rows {
                xs += x.scalars[(b * T * F)..<((b + 1) * T * F)]
                ys += labels[(b * T)..<((b + 1) * T)]
                mask += (0..<T).map { $0 < lengths[b] ? 1 : 0 }
            }
            let weights = try Tensor<Double>(shape: [rows.count, T], scalars: mask)
            let out = try model(Variable(try Tensor(shape: [rows.count, T, F], scalars: xs)), lengths: rows.map { lengths[$0] })
            let loss = try Loss.sequenceLoss(logits: out, targets: ys, weights: weights)
            for (_, p) in model.namedParameters { p.zeroGrad() }
            try loss.backward()
            return (mask.reduce(0, +), model.namedParameters.map { $0.variable.grad?.scalars ?? [] })
        }
        let whole = try gradient(rows: Array(0..<B))
        for size in [2, 3] {
            let shares = try (0..<size).map { r in try gradient(rows: Array(stride(from: r, to: B, by: size))) }
            let total = shares.map(\.weight).reduce(0, +)
            #expect(total == whole.weight)
            var worst = 0.0
            for (i, full) in whole.gradients.enumerated() {
                for (k, value) in full.enumerated() {
                    let summed = shares.map { $0.weight * $0.gradients[i][k] }.reduce(0, +) / total
                    worst = max(worst, abs(summed - value) / max(abs(value), 1e-8))
                }
            }
            #expect(worst < 1e-12, "\(size) shares: worst relative difference \(worst)")
            // Plain averaging (what equal shares would allow) is not the same step here.
            let averaged = (0..<whole.gradients[0].count).map { k in shares.map { $0.gradients[0][k] }.reduce(0, +) / Double(size) }
            #expect(zip(averaged, whole.gradients[0]).contains { abs($0 - $1) > 1e-6 * max(abs($1), 1e-8) })
        }
    }

    /// The supervised task gives each rank every size-th row of the global batch and reports the
    /// weight its loss is a mean over; the weighted shares give the one-process step.
    @Test func supervisedTaskSharesTheGlobalBatch() throws {
        var g = SeededGenerator(seed: 9)
        let (N, T, F) = (23, 6, 2)
        var values: [Float] = [], offsets = [0], labels: [Int] = []
        for i in 0..<N {
            let length = 2 + i % 5
            values += (0..<(length * F)).map { _ in Float(g.uniform(-1, 1)) }
            offsets.append(offsets.last! + length)
            labels += (0..<length).map { _ in Int(g.next() % 3) }
        }
        let data = SequenceDataset(features: F, values: values, offsets: offsets, labels: .classes(labels, names: ["a", "b", "c"]),
                                   labelsPerStep: true)
        let configuration = SequenceClassifierConfiguration(
            features: F, recurrent: RecurrentConfiguration(cell: .gru, inputSize: F, hiddenSize: 5), readout: .steps, classes: 3)
        let model = try SequenceClassifier<Float>(configuration, generator: &g)
        let task = try SupervisedTask(model: model, train: data, validation: data.subset([]), batchSize: 10)
        _ = T
        var order = SeededGenerator(seed: 1)
        task.beginEpoch(shuffling: &order)
        func step(_ group: ProcessGroup) throws -> (weight: Double, count: Int, gradients: [[Float]])? {
            var dropout = SeededGenerator(seed: 0)
            guard let batch = try task.trainingBatch(step: 2, limit: N, group: group, generator: &dropout) else { return nil }
            for (_, p) in model.namedParameters { p.zeroGrad() }
            try batch.loss.backward()
            return (batch.lossWeight, batch.count, model.namedParameters.map { $0.variable.grad!.scalars })
        }
        let whole = try #require(try step(.single))  // the last batch: rows 20..<23
        #expect(whole.count == 3)
        let shares = try (0..<4).map { try step(.detached(rank: $0, size: 4)) }
        #expect(shares[3] == nil, "a rank past the last partial batch's rows gets no share")
        let present = shares.compactMap { $0 }
        #expect(present.map(\.count) == [1, 1, 1])
        let total = present.map(\.weight).reduce(0, +)
        #expect(total == whole.weight)
        for (i, full) in whole.gradients.enumerated() {
            for (k, value) in full.enumerated() {
                let summed = present.map { Float($0.weight) * $0.gradients[i][k] }.reduce(0, +) / Float(total)
                #expect(abs(summed - value) <= 1e-5 * max(abs(value), 1e-3), "parameter \(i)[\(k)]: \(summed) vs \(value)")
            }
        }
    }
}

/// `mpirun -np N rnnkit train ... --distributed` against one process, on Open MPI from Debian
/// (`make test` installs openmpi-bin).
@Suite(.serialized) struct DistributedTrainingTests {
    /// mpirun as root needs its consent; containers block the shared-memory single-copy mechanism.
    static let environment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
                              "OMPI_MCA_btl_vader_single_copy_mechanism": "none", "OMPI_MCA_rmaps_base_oversubscribe": "1"]

    static func mpirun(_ ranks: Int, _ arguments: [String], mca: [String] = []) throws -> RunningRNNKit {
        try RunningRNNKit(arguments, environment: environment, launcher: ["mpirun", "-np", "\(ranks)"] + mca)
    }

    static func temporary(_ name: String) -> String { NSTemporaryDirectory() + "rnnkit-mpi-\(name)-" + UUID().uuidString }

    /// The largest difference between two runs' tensors in `file`, relative to each tensor's largest entry.
    static func difference(_ a: String, _ b: String, file: String = "model.safetensors") throws -> Double {
        let (x, _) = try SafeTensors.read(path: a + "/" + file, as: Float.self)
        let (y, _) = try SafeTensors.read(path: b + "/" + file, as: Float.self)
        #expect(Set(x.keys) == Set(y.keys))
        var worst = 0.0
        for (name, t) in x {
            guard let u = y[name] else { continue }
            #expect(t.shape == u.shape, "\(name)")
            let scale = Double(t.scalars.map(abs).max() ?? 0)
            for (p, q) in zip(t.scalars, u.scalars) { worst = max(worst, Double(abs(p - q)) / max(scale, 1e-12)) }
        }
        return worst
    }

    /// The rank processes mpirun started (its children).
    static func ranks(of running: RunningRNNKit) -> [Int32] {
        let pid = running.process.processIdentifier
        let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").compactMap { Int32($0) }
    }

    static func mnistArguments(_ data: String, _ out: String, batch: Int = 30) -> [String] {
        ["train", "mnist", "--data", data, "--hidden", "12", "--epochs", "3", "--batch", "\(batch)", "--out", out, "--json"]
    }

    @Test func mnistOnTwoAndThreeRanksEqualsOneProcess() throws {
        let data = try writeToyMNIST()
        let one = Self.temporary("one"), two = Self.temporary("two"), three = Self.temporary("three")
        let alone = try runRNNKit(Self.mnistArguments(data, one, batch: 61))
        #expect(alone.status == 0, "\(alone.stderr)")
        // 184 training images in batches of 61: the last batch has 1 row, so ranks 1 and 2 of 3 sit it out.
        let r2 = try Self.mpirun(2, Self.mnistArguments(data, two, batch: 61) + ["--distributed"]).wait()
        #expect(r2.status == 0, "\(r2.stdout)\n\(r2.stderr)")
        #expect(r2.stdout.contains("distributed: 2 ranks"))
        // Only rank 0 prints: one JSON line, one line per epoch.
        #expect(r2.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }.count == 1, "\(r2.stdout)")
        #expect(r2.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch 3/3") }.count == 1, "\(r2.stdout)")
        let r3 = try Self.mpirun(3, Self.mnistArguments(data, three, batch: 61) + ["--distributed"]).wait()
        #expect(r3.status == 0, "\(r3.stdout)\n\(r3.stderr)")
        for other in [two, three] {
            #expect(try Self.difference(one, other) < 1e-5)
            #expect(try Self.difference(one, other, file: "training_state.safetensors") < 1e-5)
        }
        // The reported figures are the global ones (validation reduced across ranks).
        let a = try SequenceTests().lastJSON(alone.stdout), b = try SequenceTests().lastJSON(r2.stdout)
        #expect(abs((a["validation_accuracy"] as? Double ?? -1) - (b["validation_accuracy"] as? Double ?? -2)) < 1e-9)
        #expect(a["samples"] as? Int == b["samples"] as? Int)
    }

    @Test func tcpOnlyGivesTheSameWeightsAsSharedMemory() throws {
        let data = try writeToyMNIST()
        let shared = Self.temporary("vader"), tcp = Self.temporary("tcp")
        let a = try Self.mpirun(2, Self.mnistArguments(data, shared) + ["--distributed"]).wait()
        let b = try Self.mpirun(2, Self.mnistArguments(data, tcp) + ["--distributed"], mca: ["--mca", "btl", "tcp,self"]).wait()
        #expect(a.status == 0 && b.status == 0, "\(a.stderr)\n\(b.stderr)")
        #expect(try Self.difference(shared, tcp) == 0)
    }

    /// Character models split their streams over the ranks (9 streams: 5 and 4) and carry each
    /// rank's states; a mid-epoch save gathers them, and a 2-rank run resumed by one process ends
    /// where one process alone does.
    @Test func characterModelOnTwoRanksEqualsOneProcessAndResumesAlone() throws {
        let dir = Self.temporary("text")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var g = SeededGenerator(seed: 3)
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "ran", "off"]
        let text = (0..<1500).map { _ in words[Int(g.next() % UInt64(words.count))] }.joined(separator: " ")
        try text.write(toFile: dir + "/text.txt", atomically: true, encoding: .utf8)
        func arguments(_ out: String, steps: Int) -> [String] {
            ["train", "text", "--text", dir + "/text.txt", "--hidden", "16", "--steps", "\(steps)", "--batch", "9", "--seq-len", "12",
             "--eval-every", "7", "--out", out]
        }
        let one = dir + "/one", two = dir + "/two", split = dir + "/split"
        #expect(try runRNNKit(arguments(one, steps: 30)).status == 0)
        let r = try Self.mpirun(2, arguments(two, steps: 30) + ["--distributed"]).wait()
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Self.difference(one, two) < 1e-5)
        #expect(try Self.difference(one, two, file: "training_state.safetensors") < 1e-5)
        // Stop at step 17 (mid-epoch, states carried), then continue alone.
        #expect(try Self.mpirun(2, arguments(split, steps: 17) + ["--distributed"]).wait().status == 0)
        let resumed = try runRNNKit(["train", "text", "--resume", split, "--steps", "30"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try Self.difference(one, split) < 1e-5)
    }

    /// A 2-rank `train mnist` long enough to be stopped part-way, and its folder.
    static func longRun(_ name: String) throws -> (running: RunningRNNKit, out: String) {
        let data = try writeToyMNIST(train: 600)
        let out = temporary(name)
        return (try mpirun(2, ["train", "mnist", "--data", data, "--hidden", "24", "--epochs", "500", "--batch", "20", "--out", out,
                               "--distributed"]), out)
    }

    /// A rank killed mid-run takes the job down; the last checkpoint is whole and one process resumes it.
    @Test func killingOneRankLeavesAResumableCheckpoint() throws {
        let (running, out) = try Self.longRun("killed")
        #expect(running.waitForStdout("epoch 3/500"))
        let ranks = Self.ranks(of: running)
        #expect(ranks.count == 2, "rank processes: \(ranks)")
        if let victim = ranks.last { kill(victim, SIGKILL) }
        let r = running.wait()
        #expect(r.status != 0, "mpirun should end the job when a rank dies")
        let saved = try ClassifierCheckpoint.load(from: out, forResume: true)
        let epochs = try #require(saved.progress?.epoch)
        #expect(epochs >= 2)
        let resumed = try runRNNKit(["train", "mnist", "--resume", out, "--epochs", "\(epochs + 1)", "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("resuming \(out) after epoch \(epochs)"))
        #expect(try ClassifierCheckpoint.load(from: out, forResume: true).progress?.epoch == epochs + 1)
    }

    /// SIGTERM to mpirun (what Ctrl-C and schedulers send) stops every rank at the same step; rank 0 saves once.
    @Test func sigtermSavesOnceAndResumes() throws {
        let (running, out) = try Self.longRun("term")
        #expect(running.waitForStdout("epoch 2/500"))
        // What mpirun does with a SIGTERM or Ctrl-C it gets: SIGTERM to every rank. (Sent to the ranks
        // directly: a test runner may start mpirun with the signal blocked.)
        let ranks = Self.ranks(of: running)
        #expect(ranks.count == 2)
        for rank in ranks { kill(rank, SIGTERM) }
        let r = running.wait()
        #expect(r.status != 0)
        #expect(r.stdout.components(separatedBy: "checkpoint saved in").count == 2, "\(r.stdout)")
        #expect(r.stdout.contains("resume with: rnnkit train mnist --resume \(out)"))
        let saved = try ClassifierCheckpoint.load(from: out, forResume: true)
        let step = try #require(saved.progress?.step)
        let resumed = try runRNNKit(["train", "mnist", "--resume", out, "--epochs", "\((saved.progress?.epoch ?? 0) + 1)"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("(step \(step))"))
    }

    /// Whether this machine lets the tests make network namespaces (root, iproute2, a kernel that allows it).
    static let namespacesWork: Bool = {
        guard getuid() == 0 else { return false }
        let name = "rnnkit-probe-\(getpid())"
        func ip(_ arguments: [String]) -> Bool {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["ip"] + arguments
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { return false }
            p.waitUntilExit()
            return p.terminationStatus == 0
        }
        defer { _ = ip(["netns", "del", name]) }
        return ip(["netns", "add", name])
    }()

    /// Two ranks as two hosts: each in its own network namespace, joined by a veth pair, mpirun
    /// reaching the second through an rsh agent (scripts/mpi-two-hosts.sh). Same weights as one process.
    @Test(.enabled(if: namespacesWork, "needs root and network namespaces")) func twoHostsOverAVethPairEqualOneProcess() throws {
        let data = try writeToyMNIST()
        let one = Self.temporary("host-one"), two = Self.temporary("two-hosts")
        #expect(try runRNNKit(Self.mnistArguments(data, one)).status == 0)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/mpi-two-hosts.sh").path
        let r = try RunningRNNKit(Self.mnistArguments(data, two) + ["--distributed"], launcher: ["bash", script]).wait()
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("distributed: 2 ranks"), "\(r.stdout)")
        #expect(try Self.difference(one, two) < 1e-5)
    }

    /// Learning-rate scaling and warm-up are options, never automatic: --scale-lr multiplies --lr by
    /// the ranks, and the saved configuration holds the rate and warm-up the run used.
    @Test func learningRateScalingIsAnOption() throws {
        let data = try writeToyMNIST()
        for (extra, rate) in [([String](), 0.001), (["--scale-lr", "--warmup", "5"], 0.002)] {
            let out = Self.temporary("scale")
            let r = try Self.mpirun(2, ["train", "mnist", "--data", data, "--hidden", "8", "--epochs", "1", "--out", out, "--distributed"]
                                    + extra).wait()
            #expect(r.status == 0, "\(r.stderr)")
            let saved = try ClassifierCheckpoint.load(from: out, forResume: true)
            #expect(saved.configuration.training?.optimizer.learningRate == rate)
            #expect(saved.configuration.training?.warmupSteps == (extra.isEmpty ? nil : 5))
        }
    }

    /// Ranks started with different flags or data stop before training, saying which differs.
    @Test func mismatchedRanksStopBeforeTraining() throws {
        let data = try writeToyMNIST(), other = try writeToyMNIST(seed: 2)
        let out = Self.temporary("mismatch")
        let base = ["train", "mnist", "--epochs", "1", "--out", out, "--distributed"]
        let executable = try RunningRNNKit.executable().path
        func mpmd(_ a: [String], _ b: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try RunningRNNKit(a, environment: Self.environment, launcher: ["mpirun", "-np", "1"]
                              + [executable] + b + [":", "-np", "1"]).wait()  // rank 0 runs b, rank 1 runs a
        }
        let flags = try mpmd(base + ["--data", data, "--hidden", "9"], base + ["--data", data, "--hidden", "8"])
        #expect(flags.status != 0)
        #expect(flags.stderr.contains("rank 1's model and training settings differ from rank 0's"), "\(flags.stderr)")
        let files = try mpmd(base + ["--data", other], base + ["--data", data])
        #expect(files.status != 0)
        #expect(files.stderr.contains("rank 1's training data differ from rank 0's"), "\(files.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "/model.safetensors"))
        // A global batch smaller than the ranks cannot be split.
        let small = try Self.mpirun(3, ["train", "mnist", "--data", data, "--batch", "2", "--epochs", "1", "--out", out, "--distributed"]).wait()
        #expect(small.status != 0)
        #expect(small.stderr.contains("--batch 2 cannot be split over 3 ranks"), "\(small.stderr)")
    }
}
