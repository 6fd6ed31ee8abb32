package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"tenantry/internal/billing"
	"tenantry/internal/platform"
)

func catalogCommand(env *Env) *cobra.Command {
	var g globals
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "The services you can enable, their modules and prices",
		Long:  "The services, their versions and modules with the hourly and monthly (720 h) prices in effect now.\n* marks the modules every instance has.",
		Args:  cobra.NoArgs,
	}
	g.add(cmd)
	cmd.RunE = g.run(env, false, func(c *call, _ []string) error {
		list, err := c.client.Catalog(c.ctx)
		if err != nil {
			return err
		}
		return c.print(list, func(w io.Writer) {
			for i, s := range list {
				if i > 0 {
					fmt.Fprintln(w)
				}
				fmt.Fprintf(w, "%s %s: %s (versions %s; prices in %s)\n", s.Name, s.CurrentVersion, s.Description,
					strings.Join(s.Versions, ", "), s.Currency)
				tw := table(w, "  MODULE", "PER HOUR", "PER MONTH", "")
				for _, m := range s.Modules {
					name := m.Name
					if m.Required {
						name += "*"
					}
					fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", name, billing.Money(m.HourlyPriceMinor), billing.Money(m.MonthlyPriceMinor), m.Description)
				}
				tw.Flush()
			}
		})
	})
	return cmd
}

// table starts a tab-aligned table with its header.
func table(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	return tw
}

func instancesCommand(env *Env) *cobra.Command {
	var g globals
	cmd := &cobra.Command{
		Use:   "instances",
		Short: "Your account's instances",
		Args:  cobra.NoArgs,
	}
	g.add(cmd)
	cmd.RunE = g.run(env, true, func(c *call, _ []string) error {
		list, err := c.client.Instances(c.ctx)
		if err != nil {
			return err
		}
		return c.print(list, func(w io.Writer) {
			if len(list) == 0 {
				fmt.Fprintln(w, "No instances yet: tenantry enable SERVICE --host HOST")
				return
			}
			tw := table(w, "ID", "SERVICE", "VERSION", "STATUS", "HOST", "MODULES")
			for _, v := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.Service, v.Version, status(v), v.Host, strings.Join(v.Modules, ","))
			}
			tw.Flush()
		})
	})
	return cmd
}

func status(v platform.Instance) string {
	if v.Maintenance {
		return v.Status + " (maintenance)"
	}
	return v.Status
}

func instanceCommand(env *Env) *cobra.Command {
	var g globals
	var wait bool
	cmd := &cobra.Command{
		Use:   "instance INSTANCE_ID [--wait]",
		Short: "One instance with every workflow's progress",
		Long:  "One instance with the live progress of its workflows. --wait follows its provisioning until it is\nready, has failed or waits for its setup.",
		Args:  exactArgs("INSTANCE_ID"),
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the provisioning until ready, failed or waiting for the setup")
	g.add(cmd)
	cmd.RunE = g.run(env, true, func(c *call, args []string) error {
		if wait {
			return c.followAndReport(args[0], true)
		}
		v, err := c.client.Instance(c.ctx, args[0])
		if err != nil {
			return err
		}
		return c.print(v, func(w io.Writer) { describe(w, v) })
	})
	return cmd
}

// describe writes an instance and its workflows' steps.
func describe(w io.Writer, v platform.Instance) {
	fmt.Fprintf(w, "%s %s %s at %s: %s\n", v.ID, v.Service, v.Version, v.Host, status(v))
	fmt.Fprintf(w, "  modules: %s\n", strings.Join(v.Modules, ", "))
	if v.FailureReason != "" {
		fmt.Fprintf(w, "  failed: %s\n", v.FailureReason)
	}
	if v.DeleteAfter != nil {
		fmt.Fprintf(w, "  disabled; data kept until %s (tenantry enable-again %s)\n", v.DeleteAfter.UTC().Format(time.DateTime+" UTC"), v.ID)
	}
	for _, f := range v.Workflows {
		if f.Progress == nil {
			continue
		}
		fmt.Fprintf(w, "  %s (%s): %s\n", f.Kind, f.WorkflowID, f.Progress.Status)
		for _, s := range f.Progress.Steps {
			fmt.Fprintf(w, "    %s\n", stepLine(s, time.Now()))
		}
		if f.Progress.Error != "" {
			fmt.Fprintf(w, "    error: %s\n", f.Progress.Error)
		}
	}
}

// setupFlags are the setup page's fields, for setup and enable.
type setupFlags struct {
	in           platform.SetupInput
	passwordFile string
}

func (s *setupFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.in.AdminEmail, "admin-email", "", "the service's first admin: email")
	cmd.Flags().StringVar(&s.in.AdminName, "admin-name", "", "the service's first admin: name")
	cmd.Flags().StringVar(&s.in.Language, "language", "en", "the service's language: en, de, fr or es")
	cmd.Flags().StringVar(&s.passwordFile, "password-file", "",
		"read the admin's password from this file (- reads standard input) instead of asking without echo")
}

// input reads the admin's password and returns the setup.
func (s *setupFlags) input(c *call) (platform.SetupInput, error) {
	in := s.in
	var err error
	in.AdminPassword, err = c.readSecret(s.passwordFile, "Admin password for "+in.AdminEmail+" (12 characters at least): ", true)
	return in, err
}

func enableCommand(env *Env) *cobra.Command {
	var g globals
	var in platform.EnableInput
	var setup setupFlags
	var wait bool
	cmd := &cobra.Command{
		Use:   "enable SERVICE --host HOST [--modules M1,M2] [--admin-email E --admin-name N [--password-file F]] [--wait]",
		Short: "Enable a service: a new instance with its own database",
		Long: "Enable a service at a host with the modules you want (core is always included; see tenantry catalog).\n" +
			"Provisioning waits for the setup (the service's first admin and its language): give it here with\n" +
			"--admin-email and --admin-name (the password is asked without echo, or read from --password-file),\n" +
			"or later with `tenantry setup`. --wait shows the provisioning step by step until the instance is\n" +
			"ready or failed, or until it waits for a setup you did not give (it then says how to send it).",
		Args: exactArgs("SERVICE"),
	}
	cmd.Flags().StringVar(&in.Host, "host", "", "the host the instance answers at, e.g. acme-forum.localhost")
	cmd.Flags().StringSliceVar(&in.Modules, "modules", nil, "modules to enable besides core (comma-separated or repeated)")
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the provisioning live until ready or failed")
	setup.add(cmd)
	_ = cmd.MarkFlagRequired("host")
	g.add(cmd)
	cmd.RunE = g.run(env, true, func(c *call, args []string) error {
		in.Service = args[0]
		if in.Modules == nil {
			in.Modules = []string{}
		}
		if setup.in.AdminEmail != "" || setup.in.AdminName != "" {
			s, err := setup.input(c)
			if err != nil {
				return err
			}
			in.Setup = &s
		}
		v, err := c.client.Enable(c.ctx, in)
		if err != nil {
			return err
		}
		if wait {
			if !c.json {
				fmt.Fprintf(c.out, "Enabling %s %s at %s: instance %s\n", v.Service, v.Version, v.Host, v.ID)
			}
			return c.followAndReport(v.ID, in.Setup == nil)
		}
		return c.print(v, func(w io.Writer) {
			fmt.Fprintf(w, "Enabling %s %s at %s: instance %s (%s).\n", v.Service, v.Version, v.Host, v.ID, v.Status)
			if in.Setup == nil {
				fmt.Fprintf(w, "It waits for its setup: %s\n", setupHint(v.ID))
			}
			fmt.Fprintf(w, "Follow it: tenantry instance %s --wait\n", v.ID)
		})
	})
	return cmd
}

func setupHint(id string) string {
	return "tenantry setup " + id + " --admin-email EMAIL --admin-name NAME [--language en] --wait"
}

func setupCommand(env *Env) *cobra.Command {
	var g globals
	var setup setupFlags
	var wait bool
	cmd := &cobra.Command{
		Use:   "setup INSTANCE_ID --admin-email EMAIL --admin-name NAME [--language en] [--password-file FILE] [--wait]",
		Short: "Send an instance's setup page: its first admin and language",
		Long: "Send the setup the provisioning waits for: the service's first admin (email, name, password) and\n" +
			"its language. The password is asked without echo, twice, or read from --password-file (- reads\n" +
			"standard input). --wait follows the remaining steps until the instance is ready or failed.",
		Args: exactArgs("INSTANCE_ID"),
	}
	setup.add(cmd)
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the remaining steps until ready or failed")
	_ = cmd.MarkFlagRequired("admin-email")
	_ = cmd.MarkFlagRequired("admin-name")
	g.add(cmd)
	cmd.RunE = g.run(env, true, func(c *call, args []string) error {
		in, err := setup.input(c)
		if err != nil {
			return err
		}
		res, err := c.client.Setup(c.ctx, args[0], in)
		if err != nil {
			return err
		}
		if wait {
			if !c.json {
				fmt.Fprintf(c.out, "Setup accepted for %s.\n", res.ID)
			}
			return c.followAndReport(res.ID, false)
		}
		return c.print(res, func(w io.Writer) {
			fmt.Fprintf(w, "Setup accepted for %s: provisioning goes on (%s).\nFollow it: tenantry instance %s --wait\n", res.ID, res.WorkflowID, res.ID)
		})
	})
	return cmd
}

func modulesCommand(env *Env) *cobra.Command {
	var g globals
	var set []string
	cmd := &cobra.Command{
		Use:   "modules INSTANCE_ID --set M1,M2",
		Short: "Change an instance's modules",
		Long:  "Set an instance's modules (core is always kept): billing closes and opens their usage at this instant.",
		Args:  exactArgs("INSTANCE_ID"),
	}
	cmd.Flags().StringSliceVar(&set, "set", nil, "the modules the instance has from now on besides core (comma-separated or repeated; \"\" for core only)")
	_ = cmd.MarkFlagRequired("set")
	g.add(cmd)
	cmd.RunE = g.run(env, true, func(c *call, args []string) error {
		modules := []string{}
		for _, m := range set {
			if m = strings.TrimSpace(m); m != "" {
				modules = append(modules, m)
			}
		}
		res, err := c.client.ChangeModules(c.ctx, args[0], modules)
		if err != nil {
			return err
		}
		return c.print(res, func(w io.Writer) {
			fmt.Fprintf(w, "Modules of %s: %s (added: %s; removed: %s).\n", res.ID, strings.Join(res.Modules, ", "),
				orNone(res.Added), orNone(res.Removed))
		})
	})
	return cmd
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

func disableCommand(env *Env) *cobra.Command {
	var g globals
	cmd := &cobra.Command{
		Use:   "disable INSTANCE_ID",
		Short: "Disable an instance (its data is kept for the grace period)",
		Long:  "Disable an instance: its host goes offline and billing stops now; the database is kept for the grace\nperiod, then dropped. `tenantry enable-again` within the grace brings it back with its data.",
		Args:  exactArgs("INSTANCE_ID"),
	}
	g.add(cmd)
	cmd.RunE = g.run(env, true, func(c *call, args []string) error {
		res, err := c.client.Disable(c.ctx, args[0])
		if err != nil {
			return err
		}
		return c.print(res, func(w io.Writer) {
			fmt.Fprintf(w, "Disabled %s: the host is offline and billing stopped.\nIts data is kept for %s, until %s: tenantry enable-again %s brings it back.\n",
				res.ID, res.GracePeriod, res.DataKeptUntil.UTC().Format(time.DateTime+" UTC"), res.ID)
		})
	})
	return cmd
}

func enableAgainCommand(env *Env) *cobra.Command {
	var g globals
	var wait bool
	cmd := &cobra.Command{
		Use:   "enable-again INSTANCE_ID [--wait]",
		Short: "Enable a disabled instance again, within its grace period",
		Long:  "Enable a disabled instance again with its data, within its grace period. --wait follows it until\nit is ready again.",
		Args:  exactArgs("INSTANCE_ID"),
	}
	g.add(cmd)
	cmd.Flags().BoolVar(&wait, "wait", false, "follow it until it is ready again")
	cmd.RunE = g.run(env, true, func(c *call, args []string) error {
		res, err := c.client.EnableAgain(c.ctx, args[0])
		if err != nil {
			return err
		}
		if wait {
			return c.followAgainAndReport(res.ID)
		}
		return c.print(res, func(w io.Writer) {
			fmt.Fprintf(w, "Enabling %s again with its data (%s).\n", res.ID, res.WorkflowID)
		})
	})
	return cmd
}
