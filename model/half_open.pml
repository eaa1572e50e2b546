/* Spin model of resil::basic_circuit_breaker's admission, half-open probes and transitions:
 * one Promela statement per atomic operation of the C++ code (a load, a compare-and-swap, a
 * store, a lock), each commented with the C++ lines it stands for (include/resil/
 * circuit_breaker.hpp = cb, include/resil/detail/circuit_breaker_impl.hpp = impl).
 * Three callers and a clock process. Checked by scripts/model-check.sh:
 *   safety    - probes running at once <= P, probe slots reserved <= P (assertions), no invalid
 *               end state (deadlock);
 *   liveness  - [] (half_open -> <> !half_open) under weak fairness, when probes complete
 *               (-DLIVENESS: probes record a result rather than being ignored or dropped).
 * SPDX-License-Identifier: MIT */

#ifndef P
#define P 2                 /* half_open_calls */
#endif
#define CALLERS 3

#define CLOSED 0
#define OPEN 1
#define HALF 2

/* The state word (detail/breaker_word.hpp): [gen | failed | recorded | reserved | state],
 * fields of 2 bits (P <= 3). The generation is modelled exactly without storing it: C++
 * compares generations only for equality, and "same generation" means "no transition since".
 * So every transition marks each caller's permit stale (held | STALE) and each caller's last
 * load of the word old (moved[k]); a CAS succeeds only if the word is equal AND not moved,
 * which is what the 21-bit generation gives C++ (it would take 2^21 transitions during one
 * permit to alias). */
#define ST(w)   ((w) & 3)
#define RES(w)  (((w) >> 2) & 3)
#define REC(w)  (((w) >> 4) & 3)
#define FLD(w)  (((w) >> 6) & 3)
#define ID(w)   ((w) & 3)
#define MAKE(s, r) ((s) | ((r) << 2))
#define STALE 4096
#define ONE_RES 4
#define ONE_REC 16
#define ONE_FLD 64

int word = MAKE(CLOSED, 0);           /* cb: state_ */
bool expired = false;                 /* "now >= open_until_": the clock passed the deadline */
bool locked = false;                  /* impl: mutex_ */
byte running = 0;                     /* ghost: probes inside the callable right now */
int held[CALLERS] = -1;               /* each caller's permit id, -1 for none */
bool moved[CALLERS];                  /* a transition happened since the caller loaded word */

inline expire_one(k) {
  moved[k] = true;
  if
  :: held[k] >= 0 -> held[k] = held[k] | STALE           /* matches no word any more */
  :: else -> skip
  fi
}
inline new_generation() {
  expire_one(0);
  expire_one(1);
  expire_one(2)
}

/* impl:212-252 transition(expected_id, to, now, reserve_probe). Local computation is folded
 * into the atomic operation it feeds. */
inline transition(expected, to, reserve, done) {
  atomic { !locked -> locked = true };                     /* impl:214 lock_guard(mutex_) */
  atomic { tw = word; done = (ID(tw) == expected) };       /* impl:215-216 state_.load(), ours? */
  if
  :: !done -> locked = false                               /* impl:216 return {}: unlock */
  :: done ->
     if
     :: to == OPEN -> expired = false                      /* impl:225 open_until_.store() */
     :: else -> skip                                       /* impl:229/236 half_open_since_,
                                                              window reset: not modelled */
     fi;
     do                                                    /* impl:248 CAS until it succeeds */
     :: atomic {
          word == tw ->
          word = MAKE(to, reserve);
          new_generation();                                /* gen + 1 */
          break
        }
     :: atomic { word != tw -> tw = word }                 /* only the payload moved */
     od;
     locked = false                                        /* impl:252 unlock */
  fi
}

proctype caller(byte me) {
  int w, w0, tw, p;
  bool done, failed, ok;
  do
  :: atomic { w = word; w0 = ID(w); moved[me] = false; held[me] = w0 }  /* cb:463 admit(): */
     if                                                    /*   state_.load(), the id kept */
     :: ST(w) == CLOSED -> skip                            /* cb:464 passes(w): admitted */
     :: ST(w) == OPEN ->
        if                                                 /* impl:18-20 now_ticks(), */
        :: !expired -> goto rejected                       /*   open_until_.load(), now < until */
        :: expired ->
           transition(w0, HALF, 1, done);                  /* impl:21 reserves the first probe */
           if
           :: done -> held[me] = HALF                      /* the new generation's id */
           :: else -> goto rejected                        /* impl:26 someone else moved it:
                                                              C++ looks again at once, here
                                                              the next round does */
           fi
        fi
     :: ST(w) == HALF ->
        do
        :: RES(w) < P ->                                   /* impl:30 a slot is free */
           atomic {                                        /* impl:32 CAS(w, reserved + 1); a */
             if                                            /*   failed CAS reloads w */
             :: word == w && !moved[me] -> word = w + ONE_RES; ok = true
             :: else -> w = word; moved[me] = false; ok = false
             fi;
             assert(RES(word) <= P)
           };
           if
           :: ok -> break
           :: !ok && (held[me] & STALE) -> goto rejected   /* impl:35 the state changed */
           :: else -> skip
           fi
        :: RES(w) >= P -> goto rejected                    /* impl:49 all slots reserved */
        od
     fi;

     /* The call runs: a probe is counted while it is inside the callable. */
     if
     :: ST(held[me]) == HALF ->
        atomic { running++; assert(running <= P) };
        running--;
#ifdef LIVENESS
        if
        :: failed = true
        :: failed = false
        fi;
#else
        if
        :: failed = true
        :: failed = false
        :: goto give_back                                  /* ignored, dropped or cancelled */
        fi;
#endif
        /* impl:189-207 record_probe */
        atomic { w = word; moved[me] = false; ok = (ID(w) == held[me]) }  /* impl:191 load */
        do
        :: !ok -> goto settled                             /* impl:194 its half-open ended */
        :: ok ->
           p = w + ONE_REC + (failed -> ONE_FLD : 0);
           atomic {                                        /* impl:197 CAS(w, recorded + 1) */
             if
             :: word == w && !moved[me] -> word = p; done = true
             :: else -> w = word; moved[me] = false; ok = (ID(w) == held[me]); done = false
             fi
           };
           if
           :: done -> break
           :: else -> skip
           fi
        od;
        if                                                 /* impl:199 the last probe decides */
        :: REC(p) < P -> goto settled
        :: else ->
           transition(held[me], (FLD(p) * 2 >= P -> OPEN : CLOSED), 0, done)  /* impl:206 */
        fi;
        goto settled;
give_back:                                                 /* impl:127-135 give_back_probe */
        atomic { w = word; moved[me] = false; ok = (ID(w) == held[me]) }  /* impl:129 load */
        do
        :: !ok || RES(w) == 0 -> break                     /* impl:130/132 not ours */
        :: ok && RES(w) > 0 ->
           atomic {                                        /* impl:133 CAS(w, reserved - 1) */
             if
             :: word == w && !moved[me] -> word = w - ONE_RES; ok = false
             :: else -> w = word; moved[me] = false; ok = (ID(w) == held[me])
             fi
           }
        od
     :: ST(held[me]) == CLOSED ->
        if                                                 /* a closed call: a success records */
        :: skip                                            /*   nothing that matters here; a */
        :: atomic { w = word; ok = (ID(w) == held[me]) }   /*   failure trips (impl:98-99, 183: */
           if                                              /*   consecutive_failures = 1) */
           :: ok -> transition(held[me], OPEN, 0, done)
           :: else -> skip
           fi
        fi
     fi;
settled:
rejected:                                                  /* locals are dead here: reset them */
     skip;
     d_step {
       held[me] = -1; moved[me] = false;
       w = 0; w0 = 0; tw = 0; p = 0; done = false; failed = false; ok = false
     }
  od
}

/* The clock: at any moment, time passes the open state's deadline. */
active proctype clock() {
end_clock:
  do
  :: atomic { ST(word) == OPEN && !expired -> expired = true }
  od
}

init {
  atomic {
    run caller(0);
    run caller(1);
    run caller(2)
  }
}

#ifdef LIVENESS
ltl leaves_half_open { [] ((ST(word) == HALF) -> <> (ST(word) != HALF)) }
#endif
