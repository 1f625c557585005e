/**
 * Concurrency primitives for Java 17+, one type per idea of the Rust concurrency chapter.
 *
 * <h2>Which type to reach for</h2>
 *
 * <table class="striped">
 *   <caption>weft's types and the Rust types they answer</caption>
 *   <thead>
 *     <tr><th scope="col">Need</th><th scope="col">weft</th><th scope="col">Rust</th></tr>
 *   </thead>
 *   <tbody>
 *     <tr><td>threads that borrow local data and are all joined before returning</td>
 *         <td>{@link dev.weft.Scope}, {@link dev.weft.ScopedThread}</td>
 *         <td>{@code std::thread::scope}</td></tr>
 *     <tr><td>process a collection in parallel, in order, failing fast</td>
 *         <td>{@link dev.weft.Parallel}</td><td>rayon {@code par_iter}</td></tr>
 *     <tr><td>shared mutable state, short critical sections</td>
 *         <td>{@link dev.weft.Mutex}</td><td>{@code Mutex<T>}</td></tr>
 *     <tr><td>read-mostly shared state</td>
 *         <td>{@link dev.weft.RwLock}</td><td>{@code RwLock<T>}</td></tr>
 *     <tr><td>wait until a condition holds</td>
 *         <td>{@link dev.weft.Condvar}, {@link dev.weft.Mutex#awaitThen}</td>
 *         <td>{@code Condvar}</td></tr>
 *     <tr><td>very short, contended critical sections</td>
 *         <td>{@link dev.weft.SpinLock}, {@link dev.weft.TicketLock} (FIFO)</td>
 *         <td>the chapter's {@code SpinLock}</td></tr>
 *     <tr><td>wait-free reads of a few related fields</td>
 *         <td>{@link dev.weft.SeqLock}, {@link dev.weft.SeqCount},
 *             {@link dev.weft.SeqLocked}</td>
 *         <td>the chapter's {@code SeqLock<T>}</td></tr>
 *     <tr><td>a value computed once, on first use</td>
 *         <td>{@link dev.weft.Lazy}</td><td>{@code LazyLock<T>}</td></tr>
 *     <tr><td>a value set once, by whoever comes first</td>
 *         <td>{@link dev.weft.OnceCell}</td><td>{@code OnceLock<T>}</td></tr>
 *   </tbody>
 * </table>
 *
 * <p>Counters and flags need no weft type: use {@link java.util.concurrent.atomic.AtomicLong},
 * {@link java.util.concurrent.atomic.LongAdder} or
 * {@link java.util.concurrent.atomic.AtomicBoolean}; message passing uses the JDK's
 * {@link java.util.concurrent.BlockingQueue}s. The project README has the full decision guide
 * (a flowchart), a table mapping every type the chapter names to weft or the JDK, and the
 * benchmark results.
 *
 * <h2>Conventions</h2>
 *
 * <ul>
 *   <li>Every type documents its <b>memory consistency effects</b> in happens-before terms;
 *       each such sentence has a jcstress test.
 *   <li>{@code null} arguments throw {@link java.lang.NullPointerException} naming the
 *       parameter (unless documented as allowed); out-of-range values throw
 *       {@link java.lang.IllegalArgumentException} with the value.
 *   <li>Guards are {@link java.lang.AutoCloseable}; closing one twice throws
 *       {@link java.lang.IllegalStateException}, closing it from a thread that does not own
 *       the lock throws {@link java.lang.IllegalMonitorStateException}.
 *   <li>Timeouts are {@link java.time.Duration}s; zero or negative means "check once"; huge
 *       values never overflow.
 *   <li id="virtual-timeouts"><b>Timed waits on virtual threads.</b> A wait with a positive
 *       timeout that fails on a virtual thread unmounts it before it reports the timeout.
 *       Nothing preempts a virtual thread, and a wait spins a little before it parks, so a short
 *       timeout can run out on the carrier; without this, a loop retrying {@code tryLock(1 µs)}
 *       kept its carrier for good, and with such a loop on every carrier, the thread they waited
 *       for (a holder that had parked, a signaller, an initialiser) never ran again. Such a
 *       failure parks once for the shortest time, through the JDK's timer, with nothing held, and
 *       so returns about one timer round trip (tens of microseconds) after its deadline; an
 *       interrupt during that park is reported as an interrupt. A park that returns at once on a
 *       permit does not unmount, so that park is repeated when it came back within a
 *       microsecond; a permit taken more slowly than that (cold code) can still leave one call
 *       mounted, and the next failing call then unmounts. Platform threads are unaffected. The
 *       JDK's own locks stall such a loop at 1 ns.
 *   <li>Failures of user code run on other threads arrive as
 *       {@link dev.weft.TaskFailedException}, with the original as cause and every further
 *       failure suppressed.
 *   <li>No type uses {@code synchronized}, so virtual threads never pin on weft.
 * </ul>
 */
@NullMarked
package dev.weft;

import org.jspecify.annotations.NullMarked;
