// The list panels of the page, as data: which breakdowns each shows, in
// which columns. A click on any row filters the whole page by its value.
//
// A panel: {id, title, note?, tabs}. A tab:
//   id, label          the tab; heading: the name column's title
//   property           the Stats API property it breaks down by
//   choices            other properties a select offers in its place (UTM)
//   columns            the figures after the name: {metric, label, format, mark}
//                      (mark: a figure above 0 highlights its row)
//   metrics            what to ask for, when not the columns' metrics; the
//                      first ranks the rows
//   keep, spare        rows to leave out, and how many more to ask for so
//                      that the panel stays full
//   empty              what an empty tab says
import { count } from '../format.js';

const visitors = { metric: 'visitors', label: 'Visitors', format: count };
// Entry and exit pages count visits, as Plausible's unique entrances and
// exits do: a visit's exit page moves on as the visit goes on, and a
// rollup's unique-visitor count cannot take its visitor back out of the
// page it left.
const entrances = { metric: 'visits', label: 'Unique entrances', format: count };
const exits = { metric: 'visits', label: 'Unique exits', format: count };
const searches = { metric: 'events', label: 'Searches', format: count };
const foundNothing = { metric: 'zero_results', label: 'No results', format: count, mark: true };

const UTM = ['medium', 'source', 'campaign', 'term', 'content'].map((p) => ({
  property: `visit:utm_${p}`,
  label: `UTM ${p}`,
}));

export const LIST_PANELS = [
  {
    id: 'sources',
    title: 'Top sources',
    tabs: [
      { id: 'channels', label: 'Channels', heading: 'Channel', property: 'visit:channel', columns: [visitors] },
      { id: 'sources', label: 'Sources', heading: 'Source', property: 'visit:source', columns: [visitors] },
      { id: 'utm', label: 'UTM', heading: 'UTM value', property: UTM[0].property, choices: UTM, columns: [visitors] },
    ],
  },
  {
    id: 'pages',
    title: 'Top pages',
    tabs: [
      { id: 'pages', label: 'Pages', heading: 'Page', property: 'event:page', columns: [visitors] },
      { id: 'entry', label: 'Entry pages', heading: 'Entry page', property: 'visit:entry_page', columns: [entrances] },
      { id: 'exit', label: 'Exit pages', heading: 'Exit page', property: 'visit:exit_page', columns: [exits] },
    ],
  },
  {
    id: 'devices',
    title: 'Devices',
    tabs: [
      { id: 'devices', label: 'Devices', heading: 'Device', property: 'visit:device', columns: [visitors] },
      { id: 'browsers', label: 'Browsers', heading: 'Browser', property: 'visit:browser', columns: [visitors] },
      { id: 'os', label: 'OS', heading: 'Operating system', property: 'visit:os', columns: [visitors] },
    ],
  },
  {
    id: 'searches',
    title: 'Top searches',
    note: 'Marked: searches that found nothing, what shoppers wanted and did not find.',
    tabs: [
      {
        id: 'searches',
        label: 'All',
        heading: 'Search term',
        property: 'event:search',
        metrics: ['visitors', 'events', 'zero_results'],
        columns: [searches, foundNothing],
      },
      {
        // Ranked by the searches that found nothing, so that those show
        // even where they are not among the most searched.
        id: 'nothing',
        label: 'Found nothing',
        heading: 'Search term',
        property: 'event:search',
        metrics: ['zero_results', 'visitors', 'events'],
        columns: [foundNothing, searches],
        keep: (row) => Number(row.zero_results) > 0,
        empty: 'Every search found something.',
      },
    ],
  },
  {
    id: 'clicks',
    title: 'Top clicks',
    tabs: [
      {
        id: 'clicks',
        label: 'Clicks',
        heading: 'Link or button',
        property: 'event:click',
        columns: [visitors, { metric: 'events', label: 'Clicks', format: count }],
      },
    ],
  },
  {
    id: 'events',
    title: 'Custom events',
    tabs: [
      {
        id: 'events',
        label: 'Events',
        heading: 'Event',
        property: 'event:name',
        columns: [visitors, { metric: 'events', label: 'Events', format: count }],
        // The API counts pageviews among the events, as Plausible does;
        // this panel is about the shop's own events.
        keep: (row) => row.name !== 'pageview',
        spare: 1,
      },
    ],
  },
];
