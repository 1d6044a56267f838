//! A forward's crew: the pool's other threads, held for the length of one forward, spinning
//! between the layers' splits instead of going back to rayon, which puts an idle worker to
//! sleep within microseconds and must then wake it for the next layer.
//!
//! The thread that runs the forward offers each split to the crew ([`Crew::run`]): it
//! publishes the job, wakes any helper that fell asleep, and then takes tasks itself. Tasks
//! are claimed one at a time, each thread's own share first ([`Shares`]) and then what is
//! left of the others', so a helper that the operating system has descheduled (the cores
//! are shared) takes none, and the forward's thread does them all rather than waiting. The job is withdrawn before `run` returns, and `run` waits for every
//! helper to have left it, so a helper never touches a finished job.
//!
//! A helper spins for [`SPIN`] after its last job, then keeps looking while yielding its
//! processor to other work until [`LINGER`], then parks until the next offer wakes it. The
//! gaps between two splits of a batch-1 forward are the serial steps between its layers (a
//! residual add, a global pool, a layer too small to split), tens of microseconds; rayon's
//! own idle workers go to sleep within about 50 µs (`cargo bench --bench pool_wake`), after
//! which each split waited for a wake-up. Yielding lets a loaded machine's other work run on
//! that processor while the forward has nothing for it.

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, Thread, ThreadId};
use std::time::{Duration, Instant};

/// How long an idle helper spins for the next job on the processor alone.
const SPIN: Duration = Duration::from_micros(50);

/// How long an idle helper keeps looking for the next job, yielding the processor between
/// looks after [`SPIN`], before it parks.
const LINGER: Duration = Duration::from_millis(1);

/// Spins between two looks at the clock while a helper waits.
const SPINS_PER_LOOK: u32 = 64;

/// The pool's other threads, waiting for the jobs of one forward.
pub(super) struct Crew {
    /// The job on offer: a `*const Job`, or null between jobs.
    job: AtomicPtr<()>,
    /// How many jobs have been offered: a helper runs each at most once.
    offered: AtomicUsize,
    /// Helpers that may be reading `job`: the job outlives none of them.
    users: AtomicUsize,
    /// The forward is over: helpers return.
    over: AtomicBool,
    /// The forward's thread, which runs no helper of its own crew (it could pick one up from
    /// its own queue while a task waits inside rayon, and never leave it).
    owner: ThreadId,
    helpers: Box<[Helper]>,
    /// The first panic of a task on a helper, for the forward's thread to raise.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

/// One helper's thread, and whether it is parked.
struct Helper {
    thread: OnceLock<Thread>,
    asleep: AtomicBool,
}

/// Takes and runs tasks until there are none left, on the thread whose index in the crew it
/// is given (the forward's thread 0, helper `h` `h + 1`).
type Job<'a> = &'a (dyn Fn(usize) + Sync + 'a);

/// A split's tasks cut into one contiguous share per thread of the crew, each claimed from its
/// front: thread `t` takes the tasks of share `t` first, then those left in the others.
///
/// A thread's share is the same part of every split (the same columns of the output, for
/// splits of the same size), so a layer's thread reads mostly what it wrote itself in the
/// layer before, from its own caches. On the shared VMs this was measured on (2 vCPUs of a
/// Zen 5 EPYC), the two vCPUs sit on cores that share no L3 for minutes at a time: a
/// core-to-core round trip then takes 330-360 ns instead of 42-49 (`cargo bench --bench
/// pool_wake` measures it first), and whatever one thread reads of the other's output
/// crosses between the caches. ResNet-50 at batch 1 on two threads took 23.5 ms in that state
/// with the tasks claimed in order from one counter, 21.0-21.4 ms with shares, and 18.1-18.7
/// against 17.8-18.1 ms when the cores were near (`cargo bench --bench networks -- --net
/// resnet50 --batch 1 --threads 2`, the two builds alternated, the round trip measured
/// before and after each pair).
struct Shares {
    /// The next task of each share.
    next: Box<[AtomicUsize]>,
    tasks: usize,
}

impl Shares {
    fn new(tasks: usize, threads: usize) -> Shares {
        Shares {
            next: (0..threads)
                .map(|t| AtomicUsize::new(Self::start(tasks, threads, t)))
                .collect(),
            tasks,
        }
    }

    /// The first task of share `t`: shares differ in size by one task at most.
    fn start(tasks: usize, threads: usize, t: usize) -> usize {
        t * tasks / threads
    }

    /// The next task for thread `me`: its own share's, else another's, else `None`.
    fn claim(&self, me: usize) -> Option<usize> {
        let threads = self.next.len();
        (0..threads).map(|k| (me + k) % threads).find_map(|share| {
            let end = Self::start(self.tasks, threads, share + 1);
            let next = &self.next[share];
            // A look before the claim keeps a finished share's counter from running on.
            (next.load(SeqCst) < end)
                .then(|| next.fetch_add(1, SeqCst))
                .filter(|&i| i < end)
        })
    }
}

thread_local! {
    /// The crew of the forward this thread runs, while no job of it runs on this thread.
    static CREW: Cell<Option<NonNull<Crew>>> = const { Cell::new(None) };
}

/// Runs `f`, a forward, on this rayon worker with the pool's other threads as its crew.
///
/// The helpers are spawned, not scoped, one to each other thread's own queue: the forward
/// never waits for a helper to start (a sleeping worker takes tens of microseconds to wake),
/// and one that starts after the forward is over returns at once.
pub(super) fn with_crew<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let helpers = rayon::current_num_threads().saturating_sub(1);
    if helpers == 0 {
        return f();
    }
    let crew = Arc::new(Crew {
        job: AtomicPtr::new(ptr::null_mut()),
        offered: AtomicUsize::new(0),
        users: AtomicUsize::new(0),
        over: AtomicBool::new(false),
        owner: thread::current().id(),
        helpers: (0..helpers)
            .map(|_| Helper {
                thread: OnceLock::new(),
                asleep: AtomicBool::new(false),
            })
            .collect(),
        panic: Mutex::new(None),
    });
    // One job per thread of the pool, each in that thread's own queue: a job spawned onto
    // this thread's deque waits there until another thread steals it, and if this thread
    // enters rayon first (a split nested in a task), it pops the job itself and the helper
    // is lost for the whole forward, which then ran at one thread's speed (ResNet-50 at
    // batch 1, 23.4 ms instead of 18.7 in one run in four of `bench/compare_nets.sh`).
    let owner = rayon::current_thread_index();
    let offered = Arc::clone(&crew);
    rayon::spawn_broadcast(move |thread| {
        let index = thread.index();
        match owner {
            Some(owner) if index == owner => {}
            Some(owner) => offered.help(if index > owner { index - 1 } else { index }),
            // Not called on a thread of the pool (`run_inside` never does): the first
            // `helpers` threads help.
            None if index < helpers => offered.help(index),
            None => {}
        }
    });
    // Dismissed on the way out, by return or by panic, so the helpers return.
    let _over = Dismiss(&crew);
    let _seat = Seat::sit(&crew);
    f()
}

/// The forward's thread's claim on its crew: taken by a split for the length of its job, so
/// that a split nested in a task runs without it.
pub(super) struct Seat(NonNull<Crew>);

impl Seat {
    /// Makes `crew` this thread's crew until the seat drops.
    fn sit(crew: &Crew) -> Seat {
        let crew = NonNull::from(crew);
        CREW.with(|c| c.set(Some(crew)));
        Seat(crew)
    }

    /// This thread's crew, if it runs a forward and no job of it runs here now.
    pub(super) fn take() -> Option<Seat> {
        CREW.with(|c| c.take()).map(Seat)
    }

    pub(super) fn crew(&self) -> &Crew {
        // SAFETY: a seat exists only inside `with_crew`, on its thread, while `with_crew` holds
        // the crew it points to.
        unsafe { self.0.as_ref() }
    }

    /// Whether this thread runs a forward with a crew (whose seat may be taken by a job).
    pub(super) fn occupied() -> bool {
        CREW.with(|c| c.get()).is_some()
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        CREW.with(|c| c.set(Some(self.0)));
    }
}

/// Ends a crew's forward when dropped.
struct Dismiss<'a>(&'a Crew);

impl Drop for Dismiss<'_> {
    fn drop(&mut self) {
        self.0.over.store(true, SeqCst);
        self.0.wake();
        // `with_crew`'s seat, made after this, is gone by now.
        CREW.with(|c| c.set(None));
    }
}

impl Crew {
    /// Runs `f` on every task, the crew and this thread taking them one at a time: each
    /// thread first the tasks of its own share, then what is left of the others'.
    pub(super) fn run<T: Send>(&self, tasks: Vec<T>, f: &(impl Fn(T) + Sync)) {
        let shares = Shares::new(tasks.len(), self.helpers.len() + 1);
        let tasks: Vec<Mutex<Option<T>>> = tasks.into_iter().map(|t| Mutex::new(Some(t))).collect();
        let work = |me: usize| {
            while let Some(i) = shares.claim(me) {
                let task = tasks[i].lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(task) = task {
                    f(task);
                }
            }
        };
        self.offer(&work);
    }

    /// Offers `work` to the helpers, runs it here too, withdraws it and waits until no
    /// helper is inside it; then raises a panic of `work`, on this thread or a helper's.
    fn offer(&self, work: Job<'_>) {
        let job: *const Job<'_> = &work;
        self.job.store(job as *mut (), SeqCst);
        self.offered.fetch_add(1, SeqCst);
        self.wake();
        let here = catch_unwind(AssertUnwindSafe(|| work(0)));
        self.job.store(ptr::null_mut(), SeqCst);
        // A helper that saw the job counted itself in `users` before it looked (`help`), so
        // after the null above, none can start on it and the count only falls.
        let mut spins = 0u32;
        while self.users.load(SeqCst) != 0 {
            if spins < 1 << 12 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                // A helper that holds a task lost its core, perhaps to this thread.
                thread::yield_now();
            }
        }
        if let Err(panic) = here {
            resume_unwind(panic);
        }
        let theirs = self.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(panic) = theirs {
            resume_unwind(panic);
        }
    }

    /// Unparks every helper that is parked.
    fn wake(&self) {
        for helper in &self.helpers {
            if helper.asleep.swap(false, SeqCst)
                && let Some(thread) = helper.thread.get()
            {
                thread.unpark();
            }
        }
    }

    /// Helper `me`'s loop: runs each job offered until the forward is over.
    fn help(&self, me: usize) {
        if thread::current().id() == self.owner {
            return;
        }
        let helper = &self.helpers[me];
        let _ = helper.thread.set(thread::current());
        let mut seen = 0;
        let mut idle = Instant::now();
        let mut spins = 0u32;
        while !self.over.load(SeqCst) {
            let offered = self.offered.load(SeqCst);
            if offered != seen {
                seen = offered;
                self.users.fetch_add(1, SeqCst);
                let job = self.job.load(SeqCst) as *const Job<'_>;
                if !job.is_null() {
                    // SAFETY: `offer` keeps the job alive until `users` falls to zero, and
                    // this helper is counted there from before it read the pointer.
                    let work = unsafe { *job };
                    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| work(me + 1))) {
                        let mut first = self.panic.lock().unwrap_or_else(|e| e.into_inner());
                        first.get_or_insert(panic);
                    }
                }
                self.users.fetch_sub(1, SeqCst);
                idle = Instant::now();
                continue;
            }
            std::hint::spin_loop();
            spins += 1;
            if !spins.is_multiple_of(SPINS_PER_LOOK) {
                continue;
            }
            let waited = idle.elapsed();
            if waited > SPIN && waited <= LINGER {
                thread::yield_now();
            } else if waited > LINGER {
                // Asleep before the last look, so that `wake` after a new offer either finds
                // it asleep and unparks it, or it sees the offer here.
                helper.asleep.store(true, SeqCst);
                if self.offered.load(SeqCst) == seen && !self.over.load(SeqCst) {
                    thread::park();
                }
                helper.asleep.store(false, SeqCst);
                idle = Instant::now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::time::Duration;

    use crate::threads::{for_each, in_forward, run_inside};

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a small pool")
    }

    /// Splits `tasks` tasks, each adding its index to its own counter, and checks that each
    /// ran exactly once.
    fn split_once_each(tasks: usize) {
        let counts: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
        for_each((0..tasks).collect(), |t: usize| {
            counts[t].fetch_add(1, Relaxed);
        });
        assert!(counts.iter().all(|c| c.load(Relaxed) == 1));
    }

    #[test]
    fn shares_give_each_thread_its_own_tasks_first_then_the_rest_once_each() {
        for threads in 1..=4 {
            for tasks in 0..=13 {
                let shares = super::Shares::new(tasks, threads);
                let mut claimed = vec![false; tasks];
                // Thread 0 takes its share, then every thread empties what is left.
                let own: Vec<usize> = (0..tasks * threads)
                    .map_while(|_| shares.claim(0))
                    .collect();
                for &i in &own {
                    assert!(!std::mem::replace(&mut claimed[i], true), "task {i} twice");
                }
                // Its own share came first, in order.
                let end = super::Shares::start(tasks, threads, 1);
                assert_eq!(own[..end.min(own.len())], (0..end).collect::<Vec<_>>()[..]);
                assert!(
                    claimed.iter().all(|&c| c),
                    "{tasks} tasks on {threads} threads"
                );
                assert_eq!((0..threads).find_map(|t| shares.claim(t)), None);
            }
        }
        // Interleaved claims: each thread starts with its own share's first task.
        let shares = super::Shares::new(8, 2);
        assert_eq!((shares.claim(0), shares.claim(1)), (Some(0), Some(4)));
    }

    #[test]
    fn a_forward_on_a_crew_runs_every_task_of_every_split_once() {
        for threads in [2, 3] {
            pool(threads).install(|| {
                run_inside(|| {
                    assert!(in_forward());
                    for tasks in [2, 3, 7, 64] {
                        for _ in 0..50 {
                            split_once_each(tasks);
                        }
                    }
                    // Idle long enough for the helpers to park: the next split wakes them.
                    std::thread::sleep(super::LINGER * 3);
                    split_once_each(16);
                })
            });
        }
    }

    #[test]
    fn a_split_nested_in_a_crew_task_and_a_forward_nested_in_a_forward_finish() {
        pool(2).install(|| {
            run_inside(|| {
                let total = AtomicUsize::new(0);
                for_each((0..4).collect(), |_: usize| {
                    // The seat is taken by the outer split: this one runs without the crew.
                    for_each((0..4).collect(), |_: usize| {
                        total.fetch_add(1, Relaxed);
                    });
                });
                assert_eq!(total.load(Relaxed), 16);
                // A network used as a layer runs its forward inside the outer one's crew.
                run_inside(|| {
                    assert!(in_forward());
                    split_once_each(8);
                });
            })
        });
    }

    #[test]
    fn a_panic_in_a_crew_task_reaches_the_caller_and_the_pool_keeps_working() {
        let pool = pool(2);
        for _ in 0..20 {
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.install(|| {
                    run_inside(|| {
                        for_each((0..8).collect(), |t: usize| {
                            // Long enough for the helper to take some of the tasks.
                            std::thread::sleep(Duration::from_micros(200));
                            assert!(t != 5, "task 5 fails");
                        });
                    })
                })
            }));
            assert!(caught.is_err());
        }
        pool.install(|| run_inside(|| split_once_each(32)));
        assert!(!in_forward());
    }
}
