package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"tenantry/internal/billing"
)

const day = "2 Jan 2006 15:04 MST"

func period(p billing.Period) string {
	return p.Start.UTC().Format(day) + " → " + p.End.UTC().Format(day)
}

func billingCommand(env *Env) *cobra.Command {
	var g globals
	cmd := &cobra.Command{
		Use:   "billing",
		Short: "This period so far and the projection to its end",
		Long: "This billing period so far: per instance and module the running total and the projection to the\n" +
			"period end if nothing changes (scheduled price changes counted), the lines so far, and instances\n" +
			"about to expire.",
		Args: cobra.NoArgs,
	}
	g.add(cmd)
	cmd.RunE = g.run(env, true, func(c *call, _ []string) error {
		b, err := c.client.CurrentBilling(c.ctx)
		if err != nil {
			return err
		}
		return c.print(b, func(w io.Writer) {
			fmt.Fprintf(w, "Period %s, as of %s\n", period(b.Period), b.AsOf.UTC().Format(day))
			fmt.Fprintf(w, "So far:    %s %s\nProjected: %s %s (at the period end if nothing changes)\n",
				b.Currency, billing.Money(b.SoFarMinor), b.Currency, billing.Money(b.ProjectedMinor))
			if len(b.Usage) > 0 {
				fmt.Fprintln(w)
				tw := table(w, "INSTANCE", "HOST", "MODULE", "HOURS", "SO FAR", "PROJECTED", "")
				for _, u := range b.Usage {
					running := ""
					if u.Running {
						running = "running"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.InstanceID, u.Host, u.Module, billing.Hours(u.Seconds),
						billing.Money(u.SoFarMinor), billing.Money(u.ProjectedMinor), running)
				}
				tw.Flush()
			}
			if len(b.SoFarLines) > 0 {
				fmt.Fprintln(w, "\nLines so far:")
				for _, l := range b.SoFarLines {
					fmt.Fprintf(w, "  %s\n", l.Explanation)
				}
			}
			for _, p := range b.PriceChanges {
				fmt.Fprintf(w, "Price change: %s\n", p.Notice)
			}
			for _, e := range b.Expiring {
				fmt.Fprintf(w, "Expiring: %s\n", e.Warning)
			}
			if b.Cycle != nil && b.Cycle.Error != "" {
				fmt.Fprintf(w, "The last close failed: %s\n", b.Cycle.Error)
			}
		})
	})
	return cmd
}

func invoicesCommand(env *Env) *cobra.Command {
	var g globals
	cmd := &cobra.Command{
		Use:   "invoices",
		Short: "Past invoices, newest first",
		Args:  cobra.NoArgs,
	}
	g.add(cmd)
	cmd.RunE = g.run(env, true, func(c *call, _ []string) error {
		list, err := c.client.Invoices(c.ctx)
		if err != nil {
			return err
		}
		return c.print(list, func(w io.Writer) {
			if len(list) == 0 {
				fmt.Fprintln(w, "No invoices yet: the first comes when this period closes.")
				return
			}
			tw := table(w, "ID", "PERIOD", "LINES", "TOTAL")
			for _, i := range list {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s %s\n", i.ID, period(i.Period), i.Lines, i.Currency, billing.Money(i.TotalMinor))
			}
			tw.Flush()
		})
	})
	return cmd
}

func invoiceCommand(env *Env) *cobra.Command {
	var g globals
	var csv bool
	cmd := &cobra.Command{
		Use:   "invoice INVOICE_ID [--csv]",
		Short: "One invoice with its explained lines (or as CSV)",
		Args:  exactArgs("INVOICE_ID"),
	}
	cmd.Flags().BoolVar(&csv, "csv", false, "write the invoice as CSV (a row per line, then subtotal, discount, total)")
	g.add(cmd)
	cmd.RunE = g.run(env, true, func(c *call, args []string) error {
		if csv {
			b, err := c.client.InvoiceCSV(c.ctx, args[0])
			if err != nil {
				return err
			}
			_, err = c.out.Write(b)
			return err
		}
		inv, err := c.client.Invoice(c.ctx, args[0])
		if err != nil {
			return err
		}
		return c.print(inv, func(w io.Writer) {
			s := inv.Invoice
			fmt.Fprintf(w, "Invoice %s, period %s, closed %s\n\n", s.ID, period(s.Period), s.ClosedAt.UTC().Format(time.DateTime+" UTC"))
			tw := table(w, "#", "LINE", "AMOUNT")
			for i, l := range inv.Lines {
				fmt.Fprintf(tw, "%d\t%s\t%s\n", i+1, l.Explanation, billing.Money(l.AmountMinor))
			}
			tw.Flush()
			fmt.Fprintf(w, "\nSubtotal %s %s, discount %s, total %s %s\n", s.Currency, billing.Money(s.SubtotalMinor),
				billing.Money(s.DiscountMinor), s.Currency, billing.Money(s.TotalMinor))
		})
	})
	return cmd
}
