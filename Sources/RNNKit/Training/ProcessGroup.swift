import CMPI
import Foundation

/// The processes that train one model together: one process alone (`ProcessGroup.single`), or the
/// ranks of an MPI job started by `mpirun` or `srun` (`ProcessGroup.joinMPI()`).
///
/// Data-parallel training (the scheme of Horovod and PyTorch DDP) needs four collective operations
/// of it: a sum over every rank (gradients, losses, counts), a broadcast from rank 0 (the starting
/// weights), an all-gather (checking that every rank was started the same way) and a barrier. With
/// one process each is the identity.
///
/// MPI is loaded only when a group joins it (`libmpi.so.40`, from Debian's `openmpi-bin`), so RNNKit
/// runs where no MPI is installed.
public final class ProcessGroup: @unchecked Sendable {
    /// This process's place in the group, 0 ..< size.
    public let rank: Int
    /// Processes in the group.
    public let size: Int
    /// Whether the collectives go through MPI.
    public let usesMPI: Bool

    private init(rank: Int, size: Int, usesMPI: Bool) {
        self.rank = rank
        self.size = size
        self.usesMPI = usesMPI
    }

    /// One process training alone.
    public static let single = ProcessGroup(rank: 0, size: 1, usesMPI: false)

    /// Rank `rank`'s view of a group of `size` without any communication (each collective returns
    /// its input): what that rank would compute, for tests and for planning a split.
    public static func detached(rank: Int, size: Int) -> ProcessGroup {
        precondition(size > 0 && (0..<size).contains(rank), "rank \(rank) is not in a group of \(size)")
        return ProcessGroup(rank: rank, size: size, usesMPI: false)
    }

    /// Rank 0: the one that prints and writes checkpoints.
    public var isPrimary: Bool { rank == 0 }

    /// The rank and size the launcher gave this process in its environment (Open MPI's
    /// `OMPI_COMM_WORLD_RANK`/`SIZE`, PMIx's `PMIX_RANK`, Slurm's `PMI_RANK`/`PMI_SIZE`), or nil
    /// when it was not started by an MPI launcher.
    public static var launcher: (rank: Int, size: Int)? {
        let environment = ProcessInfo.processInfo.environment
        for (rank, size) in [("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("PMI_RANK", "PMI_SIZE")] {
            if let r = environment[rank].flatMap(Int.init), let s = environment[size].flatMap(Int.init) { return (r, s) }
        }
        return nil
    }

    /// Processes of this job on this machine (`OMPI_COMM_WORLD_LOCAL_SIZE`, `SLURM_NTASKS_PER_NODE`), 1 outside MPI.
    public static var localSize: Int {
        let environment = ProcessInfo.processInfo.environment
        for name in ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"] {
            if let n = environment[name].flatMap(Int.init), n > 0 { return n }
        }
        return 1
    }

    nonisolated(unsafe) private static var joined: ProcessGroup?

    /// The MPI group this process joined, if it joined one.
    public static var current: ProcessGroup? { joined }

    /// Joins the MPI job this process was started in (once; later calls return the same group).
    ///
    /// - Throws: `RNNKitError.invalidValue` when the process was not started by `mpirun`/`srun`, or
    ///   when Open MPI's library cannot be loaded; the hint says how to fix each.
    public static func joinMPI() throws(RNNKitError) -> ProcessGroup {
        if let joined { return joined }
        guard launcher != nil else {
            throw .invalidValue(argument: "distributed", expected: "a process started by mpirun or srun",
                                found: "no MPI launcher in the environment (OMPI_COMM_WORLD_RANK is not set)",
                                hint: "Start the run with `mpirun -np N rnnkit train ...`, or leave out --distributed to train in one process.")
        }
        var message = [CChar](repeating: 0, count: 512)
        guard rnnkit_mpi_load(&message, message.count) == 0 else {
            throw .invalidValue(argument: "distributed", expected: "Open MPI's library (libmpi.so.40)",
                                found: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                                hint: "Install Open MPI (Debian: apt-get install openmpi-bin), or name the library in RNNKIT_MPI_LIBRARY.")
        }
        var rank: Int32 = 0, size: Int32 = 0
        guard rnnkit_mpi_init(&rank, &size) == 0 else {
            throw .invalidValue(argument: "distributed", expected: "MPI_Init to succeed", found: "it failed",
                                hint: "Check that mpirun and libmpi come from the same Open MPI.")
        }
        let group = ProcessGroup(rank: Int(rank), size: Int(size), usesMPI: true)
        joined = group
        return group
    }

    /// Replaces `values` on every rank with their sum over the ranks.
    public func sum(_ values: inout [Float]) {
        guard usesMPI else { return }
        let status = values.withUnsafeMutableBufferPointer { rnnkit_mpi_allreduce_sum_float($0.baseAddress, $0.count) }
        precondition(status == 0, "MPI_Allreduce failed with status \(status)")
    }

    /// Replaces `values` on every rank with their sum over the ranks.
    public func sum(_ values: inout [Double]) {
        guard usesMPI else { return }
        let status = values.withUnsafeMutableBufferPointer { rnnkit_mpi_allreduce_sum_double($0.baseAddress, $0.count) }
        precondition(status == 0, "MPI_Allreduce failed with status \(status)")
    }

    /// Replaces `values` on every rank with rank 0's (the count must agree).
    public func broadcast<T: BitwiseCopyable>(_ values: inout [T]) {
        guard usesMPI else { return }
        let status = values.withUnsafeMutableBytes { rnnkit_mpi_broadcast($0.baseAddress, $0.count, 0) }
        precondition(status == 0, "MPI_Bcast failed with status \(status)")
    }

    /// Every rank's `values` (the same count on each), in rank order.
    public func gather<T: BitwiseCopyable>(_ values: [T]) -> [[T]] {
        guard usesMPI else { return [values] }
        var gathered = [T](unsafeUninitializedCapacity: values.count * size) { buffer, initialized in
            let status = values.withUnsafeBytes { send in
                rnnkit_mpi_allgather(send.baseAddress, send.count, UnsafeMutableRawPointer(buffer.baseAddress))
            }
            precondition(status == 0, "MPI_Allgather failed with status \(status)")
            initialized = values.count * size
        }
        if values.isEmpty { gathered = [] }
        return (0..<size).map { r in Array(gathered[(r * values.count)..<((r + 1) * values.count)]) }
    }

    /// Waits until every rank has called it.
    public func barrier() {
        guard usesMPI else { return }
        precondition(rnnkit_mpi_barrier() == 0, "MPI_Barrier failed")
    }

    /// Leaves MPI (MPI_Finalize) at the end of a successful run; a process that exits with an error
    /// instead lets mpirun end the job.
    public func finish() {
        guard usesMPI else { return }
        _ = rnnkit_mpi_finalize()
    }

    /// Rows `start ..< end` of a batch that this rank takes: every size-th row from its rank
    /// (PyTorch `DistributedSampler`'s interleaving).
    public func share(_ rows: Range<Int>) -> StrideTo<Int> {
        stride(from: rows.lowerBound + rank, to: rows.upperBound, by: size)
    }

    /// This rank's contiguous part of `0 ..< count` (for evaluation, where order does not matter).
    public func block(_ count: Int) -> Range<Int> {
        (rank * count / size)..<((rank + 1) * count / size)
    }
}
