package main

// Channels and select: ChanPingPong, ChanBuffered, ChanMPMC, SelectPingPong.

import (
	"errors"
	"fmt"
	"sync"
)

// chanPingPong bounces 0 … n-1 off an echo goroutine over two unbuffered
// channels, checking each echo before sending the next value. One op is
// one round trip: two hand-offs and two goroutine switches.
func chanPingPong(m *meter) error {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()

	var mismatch error
	m.start()
	for i := 0; i < m.n; i++ {
		ping <- i
		if v := <-pong; v != i {
			mismatch = fmt.Errorf("sent %d, echo was %d", i, v)
			break
		}
	}
	m.stop()

	// Closing ping ends the echo loop; pong is closed once it has.
	close(ping)
	if _, open := <-pong; open {
		return errors.New("echo goroutine sent a value nobody asked for")
	}
	return mismatch
}

// chanBuffered moves 0 … n-1 from one producer to one consumer through a
// channel of capacity 128. The consumer sums what it gets and hands the sum
// to the timing goroutine. One op is one item.
func chanBuffered(m *meter) error {
	n := m.n
	m.start()
	items := make(chan int, 128)
	total := make(chan int, 1)
	go func() {
		for i := 0; i < n; i++ {
			items <- i
		}
		close(items)
	}()
	go func() {
		sum := 0
		for v := range items {
			sum += v
		}
		total <- sum
	}()
	sum := <-total
	m.stop()
	if want := n * (n - 1) / 2; sum != want {
		return fmt.Errorf("sum is %d, want %d", sum, want)
	}
	return nil
}

// mpmcProducers and mpmcConsumers are the two sides of ChanMPMC.
const mpmcProducers, mpmcConsumers = 4, 4

// chanMPMC has four producers, each sending its own consecutive run of n/4
// integers, and four consumers that count and sum what they receive, all on
// one channel of capacity 1024. One op is one item.
func chanMPMC(m *meter) error {
	per := m.n / mpmcProducers
	if per < 1 {
		per = 1
	}
	m.ops = mpmcProducers * per
	type tally struct{ count, sum int }
	var tallies [mpmcConsumers]tally
	var producing, consuming sync.WaitGroup

	m.start()
	items := make(chan int, 1024)
	producing.Add(mpmcProducers)
	for p := 0; p < mpmcProducers; p++ {
		go func(from, to int) {
			for v := from; v < to; v++ {
				items <- v
			}
			producing.Done()
		}(p*per, (p+1)*per)
	}
	consuming.Add(mpmcConsumers)
	for c := range tallies {
		go func(t *tally) {
			var mine tally
			for v := range items {
				mine.count++
				mine.sum += v
			}
			*t = mine
			consuming.Done()
		}(&tallies[c])
	}
	producing.Wait()
	close(items)
	consuming.Wait()
	m.stop()

	var all tally
	for _, t := range tallies {
		all.count += t.count
		all.sum += t.sum
	}
	if want := m.ops * (m.ops - 1) / 2; all.count != m.ops || all.sum != want {
		return fmt.Errorf("consumers got %d items summing to %d, want %d summing to %d",
			all.count, all.sum, m.ops, want)
	}
	return nil
}

// selectWays is the number of data channels on each side of SelectPingPong;
// traffic only uses the last one, busyWay.
const (
	selectWays = 4
	busyWay    = selectWays - 1
	neverWay   = selectWays // the case index of the never-ready channel
)

// selectPingPong does ChanPingPong's round trips, but every receive is a
// select over the receiver's four data channels plus one channel nothing
// is ever sent on. One op is one round trip.
func selectPingPong(m *meter) error {
	var toEcho, toMain [selectWays]chan int
	for w := range toEcho {
		toEcho[w], toMain[w] = make(chan int), make(chan int)
	}
	never := make(chan int)
	n := m.n

	echoErr := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			v, way := selectFrom(&toEcho, never)
			if way != busyWay {
				echoErr <- fmt.Errorf("echo side selected case %d, want %d", way, busyWay)
				return
			}
			toMain[busyWay] <- v
		}
		echoErr <- nil
	}()

	m.start()
	for i := 0; i < n; i++ {
		toEcho[busyWay] <- i
		v, way := selectFrom(&toMain, never)
		if way != busyWay || v != i {
			return fmt.Errorf("round trip %d: got %d from case %d", i, v, way)
		}
	}
	m.stop()
	return <-echoErr
}

// selectFrom blocks until one of data or never can be received from and
// returns the value and the index of the case taken (neverWay for never).
func selectFrom(data *[selectWays]chan int, never chan int) (int, int) {
	select {
	case v := <-data[0]:
		return v, 0
	case v := <-data[1]:
		return v, 1
	case v := <-data[2]:
		return v, 2
	case v := <-data[3]:
		return v, 3
	case <-never:
		return 0, neverWay
	}
}
