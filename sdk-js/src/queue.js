// queue batches events in memory and hands them to send when max events
// are waiting or wait ms after the first one, whichever comes first. The
// page calls flush when it is hidden or left, so nothing waits on a timer
// that will never fire.
export function queue(send, max = 10, wait = 1000) {
  let events = [];
  let timer = 0;
  function flush() {
    clearTimeout(timer);
    timer = 0;
    if (events.length) send(events.splice(0));
  }
  return {
    flush,
    push(e) {
      events.push(e);
      if (events.length >= max) flush();
      else if (!timer) timer = setTimeout(flush, wait);
    },
  };
}
